"""Operators start jobs from the instance list, Sync all and admin actions; the worker does them.

The list's checked rows, Sync all and the admin's bulk actions (events on and off, disable and
enable) each start one job over the chosen instances and link to it, with a clear message when
nothing or nothing valid was chosen; nothing is sent to Cloud Elements within the request.
"""

from __future__ import annotations

from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.urls import reverse

from instances.jobs.models import Job
from instances.models import AuditEntry
from tests.jobs.support import ACTIVE, Action, shown


def test_the_list_starts_a_job_from_the_checked_rows(client, operator, make_instance):
    chosen = [make_instance(f"Row {n}", status=ACTIVE, remote_id=7100 + n) for n in range(3)]
    client.force_login(operator)
    page = client.get(reverse("instances:index")).content.decode()
    assert f'value="{chosen[0].uuid}" form="bulk"' in page

    response = client.post(
        reverse("jobs:bulk"),
        {"action": "events_off", "instance": [str(chosen[0].uuid), str(chosen[2].uuid), "junk"]},
    )

    job = Job.objects.get()
    assert response.url == job.get_absolute_url()
    assert (job.kind, job.total, job.created_by) == ("events_off", 2, operator)
    assert "Job running" in client.get(reverse("instances:index")).content.decode()
    none = client.post(reverse("jobs:bulk"), {"action": "sync"}, follow=True)
    assert shown(none) == [("error", "No instances were selected, so no job was started.")]
    bad = client.post(reverse("jobs:bulk"), {"action": "delete"}, follow=True)
    assert shown(bad) == [("error", "Choose what to do with the selected instances.")]


def test_sync_all_and_the_admin_actions_start_jobs(client, operator, make_instance):
    active = [make_instance(f"Row {n}", status=ACTIVE, remote_id=7200 + n) for n in range(3)]
    make_instance("Draft")
    client.force_login(operator)

    response = client.post(reverse("instances:sync_all"))

    job = Job.objects.get()
    assert response.url == job.get_absolute_url()
    assert (job.kind, job.total) == ("sync_all", 3)
    changelist = reverse("admin:instances_elementinstance_changelist")
    answer = client.post(
        changelist,
        {"action": "enable_events", ACTION_CHECKBOX_NAME: [active[0].pk, active[1].pk]},
        follow=True,
    )
    started = Job.objects.exclude(pk=job.pk).get()
    assert (started.kind, started.total) == ("events_on", 2)
    assert f'<a href="{started.get_absolute_url()}">job {started.pk}</a>' in answer.content.decode()
    assert client.get(reverse("admin:jobs_job_changelist")).status_code == 200
    assert client.get(reverse("admin:jobs_job_change", args=[job.pk])).status_code == 200


def test_the_list_and_the_admin_start_disable_and_enable_jobs(client, operator, make_instance):
    rows = [make_instance(f"Row {n}", status=ACTIVE, remote_id=7300 + n) for n in range(2)]
    client.force_login(operator)
    page = client.get(reverse("instances:index")).content.decode()
    assert '<option value="disable">Disable at Cloud Elements</option>' in page
    assert '<option value="enable">Enable at Cloud Elements</option>' in page

    client.post(reverse("jobs:bulk"), {"action": "disable", "instance": [str(rows[0].uuid)]})
    changelist = reverse("admin:instances_elementinstance_changelist")
    answer = client.post(
        changelist,
        {"action": "enable_instances", ACTION_CHECKBOX_NAME: [r.pk for r in rows]},
        follow=True,
    )

    first, second = Job.objects.order_by("pk")
    assert (first.kind, first.total, second.kind, second.total) == ("disable", 1, "enable", 2)
    assert f'<a href="{second.get_absolute_url()}">job {second.pk}</a>' in answer.content.decode()
    # Nothing was sent in the request: the worker does it.
    assert not AuditEntry.objects.filter(action__in=[Action.DISABLED, Action.ENABLED]).exists()
