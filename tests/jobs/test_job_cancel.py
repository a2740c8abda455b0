"""Cancelling a job stops it after the instance in flight, and a cancelled job is never started.

The cancel is injected at the client seam while a call to the sandbox is in flight; the job stops
with the rest of its items pending, cancelling it again says there is nothing to cancel, and a
job cancelled before any worker claimed it is never claimed.
"""

from __future__ import annotations

from django.urls import reverse

from instances.cloud_elements import client as cloud_elements
from instances.jobs import engine
from instances.jobs import services as jobs
from instances.jobs.models import Job, JobItem
from instances.models import ElementInstance
from tests.job_helpers import sandboxed
from tests.jobs.support import ACTIVE, live, shown


@live
def test_cancel_stops_the_job_after_the_instance_in_flight(
    sandbox_site, client, operator, make_instance, monkeypatch
):
    sandboxed(make_instance, sandbox_site.url, 6)
    job = jobs.start_job(
        kind=Job.Kind.SYNC, instances=ElementInstance.objects.all(), actor=operator
    )
    real = cloud_elements.get_instance
    calls = []

    def get_instance(instance_id):
        calls.append(instance_id)
        if len(calls) == 2:  # the operator presses Cancel while the second one is in flight
            jobs.cancel_job(job=Job.objects.get(pk=job.pk), actor=operator)
        return real(instance_id)

    monkeypatch.setattr(cloud_elements, "get_instance", get_instance)

    assert engine.run_job(job.pk) == "stopped"

    job.refresh_from_db()
    assert (job.status, job.done, job.cancelled_by) == ("cancelled", 2, operator)
    assert len(calls) == 2
    assert job.items.filter(status=JobItem.Status.PENDING).count() == 4
    client.force_login(operator)
    twice = client.post(reverse("jobs:cancel", args=[job.pk]), follow=True)
    assert twice.status_code == 200
    assert shown(twice) == [("warning", "This job is already cancelled; nothing to cancel.")]


def test_a_cancelled_job_is_never_started(operator, make_instance, client):
    instance = make_instance(status=ACTIVE, remote_id=7001)
    job = jobs.start_job(kind=Job.Kind.SYNC, instances=[instance.pk], actor=operator)
    client.force_login(operator)

    response = client.post(reverse("jobs:cancel", args=[job.pk]), follow=True)

    assert response.redirect_chain[-1][0] == job.get_absolute_url()
    assert shown(response)[0][0] == "success"
    assert engine.run_job(job.pk) == "not claimed"
    assert Job.objects.get(pk=job.pk).done == 0
