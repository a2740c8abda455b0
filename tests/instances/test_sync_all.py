"""Sync all: one job that syncs every active instance from Cloud Elements.

The job goes over the active instances only, flags one missing at Cloud Elements and carries on;
with no active instance there is no job, and the operator is told so. The integration test runs
the job against the sandbox over real HTTP.
"""

from __future__ import annotations

from django.urls import reverse

from instances.cloud_elements import client as cloud_elements
from instances.jobs import engine
from instances.jobs.models import Job
from tests.instances.lifecycle_helpers import (
    Status,
    create_remote_instance,
    live,
    reload,
    shown_messages,
)


@live
def test_sync_all_is_a_job_over_every_active_instance(
    sandbox_site, settings, client, operator, make_instance
):
    finance = create_remote_instance(settings, name="Finance Dropbox", tags=("finance",))
    legal = create_remote_instance(settings, name="Legal Dropbox", events_enabled=True)
    gone = create_remote_instance(settings, name="Gone Dropbox")
    cloud_elements.delete_instance(gone.id)
    rows = {
        "finance": make_instance("Finance (old)", status=Status.ACTIVE, remote_id=finance.id),
        "legal": make_instance("Legal (old)", status=Status.ACTIVE, remote_id=legal.id),
        "gone": make_instance("Gone Dropbox", status=Status.ACTIVE, remote_id=gone.id),
        "draft": make_instance("Draft Dropbox"),
    }
    client.force_login(operator)

    response = client.post(reverse("instances:sync_all"), follow=True)

    job = Job.objects.get()
    assert response.redirect_chain[-1][0] == job.get_absolute_url()
    assert shown_messages(response) == [
        ("success", f"Started job {job.pk}: sync of 3 active instances.")
    ]
    engine.run_job(job.pk)  # what the task worker runs
    job.refresh_from_db()
    assert (job.status, job.total, job.done, job.failed) == ("done", 3, 3, 1)
    rows = {key: reload(row) for key, row in rows.items()}
    assert rows["finance"].name == "Finance Dropbox"
    assert rows["finance"].tag_names() == ["finance"]
    assert rows["legal"].name == "Legal Dropbox"
    assert rows["legal"].webhook.enabled is True
    assert not rows["finance"].remote_missing and not rows["legal"].remote_missing
    assert rows["gone"].remote_missing is True
    assert rows["gone"].status == Status.ACTIVE
    assert f"no instance {gone.id}" in rows["gone"].last_error
    assert rows["draft"].synced_at is None


def test_sync_all_with_no_active_instance_says_so(client, operator, make_instance):
    make_instance("Draft Dropbox")
    client.force_login(operator)

    response = client.post(reverse("instances:sync_all"), follow=True)

    assert not Job.objects.exists()
    assert shown_messages(response) == [("warning", "There is no active instance to sync.")]
