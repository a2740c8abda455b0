"""The database fails in the middle of a job: the job is resumed after its lease and nothing is
marked done that was not done (item statuses agree with the sandbox and the audit log).

On every database the fault is injected at the database seam (connection.execute_wrapper) on the
statement that records one item, after Cloud Elements has applied that item's change: the worst
moment. On PostgreSQL a second test kills a real worker's connection with pg_terminate_backend
(only the server can do that, so it is defined only there; never restart the shared server)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.db import DatabaseError, OperationalError, connection
from django.utils import timezone

from instances.cloud_elements import client as cloud_elements
from instances.jobs import engine
from instances.jobs import services as jobs
from instances.jobs.models import Job, JobItem
from instances.models import AuditEntry
from instances.sandbox.models import SandboxInstance
from tests.job_helpers import sandboxed, start_worker, wait_for, worker_env

pytestmark = pytest.mark.django_db(transaction=True)
Item = JobItem.Status


def fail_recording_item(number: int):
    """An execute wrapper failing the `number`-th statement that marks an item done."""
    seen = []

    def wrapper(execute, sql, params, many, context):
        if sql.startswith('UPDATE "instances_jobitem"') and Item.OK in (params or ()):
            seen.append(sql)
            if len(seen) == number:
                raise OperationalError("server closed the connection unexpectedly")
        return execute(sql, params, many, context)

    return wrapper


def assert_items_agree_with_remote(job: Job, *, enabled: bool) -> None:
    """Every item marked done was done at Cloud Elements, audited once, or, when the fault hit
    between the remote change and its audit entry, read back (and so said) rather than resent."""
    for item in job.items.select_related("instance"):
        remote = SandboxInstance.objects.get(pk=item.instance.remote_id)
        audited = AuditEntry.objects.filter(
            instance=item.instance, action=AuditEntry.Action.EVENTS_ENABLED
        ).count()
        if item.status == Item.OK:
            assert remote.events_enabled is enabled, item
            assert audited == 1 or (audited == 0 and "read back" in item.message), item
        elif item.status == Item.PENDING:
            assert remote.events_enabled is not enabled and audited == 0, item


def test_a_database_fault_mid_job_resumes_after_the_lease_without_resending(
    sandbox_site, operator, make_instance, monkeypatch
):
    instances = sandboxed(make_instance, sandbox_site.url, 8)
    job = jobs.start_job(
        kind=Job.Kind.EVENTS_ON, instances=[i.pk for i in instances], actor=operator
    )

    with connection.execute_wrapper(fail_recording_item(5)), pytest.raises(DatabaseError):
        engine.run_job(job.pk)

    job.refresh_from_db()
    statuses = list(job.items.order_by("pk").values_list("status", flat=True))
    # The fifth change landed at Cloud Elements but was not recorded: in flight, not done.
    assert statuses == [Item.OK] * 4 + [Item.IN_FLIGHT] + [Item.PENDING] * 3
    assert (job.status, job.done) == (Job.Status.RUNNING, 4)
    assert_items_agree_with_remote(job, enabled=True)
    assert jobs.recover_stalled_jobs() == []  # the lease still holds

    Job.objects.filter(pk=job.pk).update(lease_expires_at=timezone.now() - timedelta(seconds=1))
    assert jobs.recover_stalled_jobs() == [job.pk]
    sent = []
    real = cloud_elements.update_instance
    monkeypatch.setattr(cloud_elements, "update_instance", lambda *a: sent.append(a[0]) or real(*a))
    assert engine.run_job(job.pk) == "done"

    job.refresh_from_db()
    assert (job.status, job.done, job.failed, job.attempts) == ("done", 8, 0, 2)
    assert set(job.items.values_list("status", flat=True)) == {Item.OK}
    fifth = job.items.order_by("pk")[4]
    assert "read back, not resent" in fifth.message
    assert fifth.instance.remote_id not in sent and len(sent) == 3
    assert_items_agree_with_remote(job, enabled=True)


if settings.DATABASES["default"]["ENGINE"].endswith("postgresql"):

    def test_a_worker_whose_connection_is_killed_carries_on_and_the_job_finishes(
        sandbox_site, operator, make_instance
    ):
        instances = sandboxed(make_instance, sandbox_site.url, 60)
        job = jobs.start_job(
            kind=Job.Kind.EVENTS_ON, instances=[i.pk for i in instances], actor=operator
        )
        env = worker_env(sandbox_site.url, JOB_LEASE_SECONDS="2")
        name = f"ce-fault-worker-{job.pk}"
        env["DATABASE_URL"] += f"?application_name={name}"
        worker = start_worker(env)
        try:
            wait_for(lambda: Job.objects.get(pk=job.pk).done >= 10, timeout=120, every=0.02)
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE application_name = %s",
                    [name],
                )
                assert cursor.fetchall(), "the worker's connection was not found"
            # The lease runs out; the scheduler queues the job again; the same worker, which
            # must have survived its connection being killed, finishes it.
            wait_for(lambda: jobs.recover_stalled_jobs(), timeout=30, every=0.2)
            wait_for(
                lambda: Job.objects.get(pk=job.pk).finished or worker.poll() is not None,
                timeout=120,
                every=0.2,
            )
            assert worker.poll() is None, "the worker died with its database connection"
        finally:
            worker.kill()
            output, _ = worker.communicate(timeout=10)

        job.refresh_from_db()
        assert (job.status, job.done, job.failed, job.attempts) == ("done", 60, 0, 2), output
        assert set(job.items.values_list("status", flat=True)) == {Item.OK}
        assert_items_agree_with_remote(job, enabled=True)
