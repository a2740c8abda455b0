"""Consent links, events and jobs now belong to their own apps (links, events, jobs).

No table changes: the new apps' first migrations take the models over in Django's state with
the same table names, and this one lets them go here. What refers to the models by app label
follows them: their content types (so permissions and admin history stay attached) and the
paths of task rows still queued under the old module names.
"""

import django.db.models.deletion
from django.db import migrations, models

MOVED = {
    "consentlink": "links",
    "eventnotification": "events",
    "eventdailycount": "events",
    "job": "jobs",
    "jobitem": "jobs",
    "schedulerun": "jobs",
}
TASK_PATHS = {
    "instances.tasks.run_job": "instances.jobs.tasks.run_job",
    "instances.tasks.run_schedule": "instances.jobs.schedules.run_schedule",
}


def _move_content_types(apps, *, forward: bool) -> None:
    ContentType = apps.get_model("contenttypes", "ContentType")
    for model, app_label in MOVED.items():
        old, new = ("instances", app_label) if forward else (app_label, "instances")
        if not ContentType.objects.filter(app_label=new, model=model).exists():
            ContentType.objects.filter(app_label=old, model=model).update(app_label=new)


def _move_task_paths(apps, *, forward: bool) -> None:
    DBTaskResult = apps.get_model("django_tasks_database", "DBTaskResult")
    for old, new in TASK_PATHS.items():
        before, after = (old, new) if forward else (new, old)
        DBTaskResult.objects.filter(task_path=before).update(task_path=after)


def forward(apps, schema_editor):
    _move_content_types(apps, forward=True)
    _move_task_paths(apps, forward=True)


def backward(apps, schema_editor):
    _move_content_types(apps, forward=False)
    _move_task_paths(apps, forward=False)


class Migration(migrations.Migration):

    dependencies = [
        ('instances', '0012_events_no_separate_instance_index'),
        ('events', '0001_initial'),
        ('jobs', '0001_initial'),
        ('links', '0001_initial'),
        ('contenttypes', '0002_remove_content_type_name'),
        ('django_tasks_database', '0001_initial'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name='oauthstate',
                    name='consent_link',
                    field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='oauth_states', to='links.consentlink'),
                ),
                migrations.DeleteModel(name='JobItem'),
                migrations.DeleteModel(name='ScheduleRun'),
                migrations.DeleteModel(name='Job'),
                migrations.DeleteModel(name='ConsentLink'),
                migrations.DeleteModel(name='EventDailyCount'),
                migrations.DeleteModel(name='EventNotification'),
            ],
        ),
        migrations.RunPython(forward, backward),
    ]
