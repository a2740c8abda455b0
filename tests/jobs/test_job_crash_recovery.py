"""A job survives its worker dying: it is queued again once, never raced on, never resent.

A worker's lease that expires puts the job back in the queue once (and fails it after the last
attempt); a worker that lost its lease stops instead of racing the new one; an item found in
flight after a crash is read back from Cloud Elements rather than sent twice.
"""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from instances.cloud_elements import client as cloud_elements
from instances.jobs import engine
from instances.jobs import services as jobs
from instances.jobs.models import Job, JobItem
from instances.models import ElementInstance
from instances.sandbox.models import SandboxInstance
from tests.job_helpers import sandboxed
from tests.jobs.support import ACTIVE, live


@live
def test_a_resumed_item_is_read_back_not_sent_twice(
    sandbox_site, operator, make_instance, monkeypatch
):
    [instance] = sandboxed(make_instance, sandbox_site.url, 1, events=True)
    # The worker died after Cloud Elements applied the change but before it was recorded.
    job = jobs.start_job(kind=Job.Kind.EVENTS_ON, instances=[instance.pk], actor=operator)
    JobItem.objects.filter(job=job).update(status=JobItem.Status.IN_FLIGHT)
    sent = []
    monkeypatch.setattr(cloud_elements, "update_instance", lambda *a: sent.append(a))

    engine.run_job(job.pk)

    item = job.items.get()
    assert item.status == JobItem.Status.OK
    assert "read back, not resent" in item.message
    assert sent == []
    instance.webhook.refresh_from_db()
    assert instance.webhook.enabled is True


@live
def test_a_resumed_disable_is_read_back_not_sent_twice(
    sandbox_site, operator, make_instance, monkeypatch
):
    [instance] = sandboxed(make_instance, sandbox_site.url, 1)
    # The worker died after Cloud Elements disabled it but before the answer was recorded.
    SandboxInstance.objects.filter(pk=instance.remote_id).update(disabled=True)
    job = jobs.start_job(kind=Job.Kind.DISABLE, instances=[instance.pk], actor=operator)
    JobItem.objects.filter(job=job).update(status=JobItem.Status.IN_FLIGHT)
    sent = []
    monkeypatch.setattr(cloud_elements, "set_instance_enabled", lambda *a, **k: sent.append(a))

    engine.run_job(job.pk)

    item = job.items.get()
    assert (item.status, sent) == (JobItem.Status.OK, [])
    assert "read back, not resent" in item.message
    instance.refresh_from_db()
    assert instance.remote_disabled is True


def test_a_job_whose_worker_died_is_queued_again_once(operator, make_instance):
    instance = make_instance(status=ACTIVE, remote_id=7300)
    job = jobs.start_job(kind=Job.Kind.SYNC, instances=[instance.pk], actor=operator)
    assert engine.claim(job.pk) == 1 and engine.claim(job.pk) is None
    Job.objects.filter(pk=job.pk).update(lease_expires_at=timezone.now() - timedelta(seconds=1))
    before = DBTaskResult.objects.count()

    assert jobs.recover_stalled_jobs() == [job.pk]
    assert jobs.recover_stalled_jobs() == []

    assert Job.objects.get(pk=job.pk).status == Job.Status.QUEUED
    assert DBTaskResult.objects.count() == before + 1


@live
def test_a_worker_that_lost_its_lease_stops_instead_of_racing_on(
    sandbox_site, operator, make_instance, monkeypatch
):
    sandboxed(make_instance, sandbox_site.url, 5)
    job = jobs.start_job(
        kind=Job.Kind.SYNC, instances=ElementInstance.objects.all(), actor=operator
    )
    real = cloud_elements.get_instance

    def get_instance(instance_id):
        # This worker stalls past its lease; the scheduler hands the job to another worker.
        if not Job.objects.filter(pk=job.pk, attempts=2).exists():
            Job.objects.filter(pk=job.pk).update(lease_expires_at=timezone.now())
            assert jobs.recover_stalled_jobs() == [job.pk]
            assert engine.claim(job.pk) == 2
        return real(instance_id)

    monkeypatch.setattr(cloud_elements, "get_instance", get_instance)

    assert engine.run_job(job.pk) == "stopped"

    job.refresh_from_db()
    assert (job.status, job.attempts, job.done) == ("running", 2, 0)
    assert job.items.filter(status=JobItem.Status.PENDING).count() == 4


def test_a_job_that_keeps_losing_its_worker_is_failed_not_retried_forever(operator, make_instance):
    instance = make_instance(status=ACTIVE, remote_id=7400)
    job = jobs.start_job(kind=Job.Kind.SYNC, instances=[instance.pk], actor=operator)
    Job.objects.filter(pk=job.pk).update(
        status=Job.Status.RUNNING,
        attempts=engine.MAX_ATTEMPTS,
        lease_expires_at=timezone.now() - timedelta(seconds=1),
    )

    assert jobs.recover_stalled_jobs() == []

    job.refresh_from_db()
    assert job.status == Job.Status.FAILED and job.finished_at is not None
