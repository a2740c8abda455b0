"""Jobs move from the instances app to this one: state only, same tables."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("instances", "0012_events_no_separate_instance_index"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        # The table was made by the instances app's migrations and stays as it is: this app
        # takes over the model in Django's state only (instances/0013 lets it go).
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="Job",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True,
                                primary_key=True,
                                serialize=False,
                                verbose_name="ID",
                            ),
                        ),
                        (
                            "kind",
                            models.CharField(
                                choices=[
                                    ("events_on", "Turn events on"),
                                    ("events_off", "Turn events off"),
                                    ("sync", "Sync from Cloud Elements"),
                                    ("sync_all", "Sync all from Cloud Elements"),
                                    ("health_check", "Health check"),
                                    ("disable", "Disable at Cloud Elements"),
                                    ("enable", "Enable at Cloud Elements"),
                                ],
                                max_length=32,
                            ),
                        ),
                        (
                            "status",
                            models.CharField(
                                choices=[
                                    ("queued", "Queued"),
                                    ("running", "Running"),
                                    ("done", "Done"),
                                    ("cancelled", "Cancelled"),
                                    ("failed", "Failed"),
                                ],
                                default="queued",
                                max_length=16,
                            ),
                        ),
                        ("created_at", models.DateTimeField(auto_now_add=True)),
                        ("started_at", models.DateTimeField(blank=True, null=True)),
                        ("finished_at", models.DateTimeField(blank=True, null=True)),
                        ("total", models.PositiveIntegerField(default=0)),
                        ("done", models.PositiveIntegerField(default=0)),
                        ("failed", models.PositiveIntegerField(default=0)),
                        ("lease_expires_at", models.DateTimeField(blank=True, null=True)),
                        ("attempts", models.PositiveIntegerField(default=0)),
                        (
                            "cancelled_by",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                related_name="+",
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                        (
                            "created_by",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                        (
                            "retry_of",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                related_name="retries",
                                to="jobs.job",
                            ),
                        ),
                    ],
                    options={
                        "db_table": "instances_job",
                        "ordering": ["-created_at", "-id"],
                    },
                ),
                migrations.CreateModel(
                    name="JobItem",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True,
                                primary_key=True,
                                serialize=False,
                                verbose_name="ID",
                            ),
                        ),
                        (
                            "status",
                            models.CharField(
                                choices=[
                                    ("pending", "Pending"),
                                    ("in_flight", "In flight"),
                                    ("ok", "Done"),
                                    ("failed", "Failed"),
                                    ("skipped", "Skipped"),
                                ],
                                default="pending",
                                max_length=16,
                            ),
                        ),
                        ("message", models.TextField(blank=True)),
                        ("finished_at", models.DateTimeField(blank=True, null=True)),
                        (
                            "instance",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="job_items",
                                to="instances.elementinstance",
                            ),
                        ),
                        (
                            "job",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="items",
                                to="jobs.job",
                            ),
                        ),
                    ],
                    options={
                        "db_table": "instances_jobitem",
                        "ordering": ["id"],
                    },
                ),
                migrations.CreateModel(
                    name="ScheduleRun",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True,
                                primary_key=True,
                                serialize=False,
                                verbose_name="ID",
                            ),
                        ),
                        ("name", models.CharField(max_length=64)),
                        ("period_start", models.DateTimeField()),
                        ("created_at", models.DateTimeField(auto_now_add=True)),
                    ],
                    options={
                        "db_table": "instances_schedulerun",
                        "ordering": ["-period_start"],
                        "constraints": [
                            models.UniqueConstraint(
                                fields=("name", "period_start"), name="schedule_run_once"
                            )
                        ],
                    },
                ),
                migrations.AddIndex(
                    model_name="job",
                    index=models.Index(
                        fields=["status", "lease_expires_at"], name="instances_j_status_ab572e_idx"
                    ),
                ),
                migrations.AddIndex(
                    model_name="jobitem",
                    index=models.Index(
                        fields=["job", "status"], name="instances_j_job_id_1d9ec6_idx"
                    ),
                ),
                migrations.AddConstraint(
                    model_name="jobitem",
                    constraint=models.UniqueConstraint(
                        fields=("job", "instance"), name="job_item_once_per_job"
                    ),
                ),
            ],
        ),
    ]
