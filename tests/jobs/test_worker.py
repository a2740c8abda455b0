"""The real task workers and scheduler in subprocesses, on both task backends: django-tasks-db's
`db_worker` sharing the test database, and RQ's `rqworker` on Redis (the database still holds
the jobs, their items and leases). Each runs a job to the end, survives a worker killed with
SIGKILL mid-job without resending, stops a cancelled job, and runs a schedule once with two
schedulers."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import redis

from instances.jobs import services as jobs
from instances.jobs.models import Job, JobItem, ScheduleRun
from instances.jobs.schedules import SCHEDULES
from instances.models import AuditEntry, ElementInstance
from instances.sandbox.models import SandboxInstance
from tests.job_helpers import (
    ROOT,
    QueueBackend,
    away_from_a_period_boundary,
    sandboxed,
    wait_for,
)

pytestmark = pytest.mark.django_db(transaction=True)
COUNT = int(os.environ.get("JOB_TEST_INSTANCES", "200"))
# A Redis database of the tests' own: emptied before and after each test.
TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


@pytest.fixture(params=["database", "rq"])
def queue(request, settings):
    if request.param == "database":
        yield QueueBackend("database")
        return
    connection = redis.Redis.from_url(TEST_REDIS_URL)
    try:
        connection.ping()
    except redis.ConnectionError as error:
        pytest.fail(f"Redis is not reachable at {TEST_REDIS_URL} ({error}); set TEST_REDIS_URL.")
    connection.flushdb()
    settings.TASKS = {"default": {"BACKEND": settings.RQ_BACKEND}}
    settings.RQ_QUEUES = {"default": {"URL": TEST_REDIS_URL}}
    yield QueueBackend("rq", TEST_REDIS_URL)
    connection.flushdb()


def finished(job: Job) -> Job | None:
    job.refresh_from_db()
    return job if job.finished else None


def kill(worker: subprocess.Popen) -> None:
    """SIGKILL the worker and what it forked, as when its machine dies (an RQ worker runs each
    task in a child of its own session, which would outlive its parent)."""
    for pid in [*children(worker.pid), worker.pid]:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    worker.wait(timeout=10)


def children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        found += [int(child) for child in task.read_text().split()]
    return [grandchild for child in found for grandchild in children(child)] + found


def test_the_worker_runs_a_sync_job_over_many_instances(
    queue, sandbox_site, operator, make_instance
):
    instances = sandboxed(make_instance, sandbox_site.url, COUNT)
    SandboxInstance.objects.filter(pk=instances[7].remote_id).delete()
    job = jobs.start_job(
        kind=Job.Kind.SYNC, instances=ElementInstance.objects.all(), actor=operator
    )

    worker = queue.start_worker(queue.env(sandbox_site.url), batch=True)
    ok, output = queue.finish(worker, timeout=600)

    assert ok, output
    job.refresh_from_db()
    assert (job.status, job.total, job.done, job.failed) == ("done", COUNT, COUNT, 1)
    assert job.items.filter(status=JobItem.Status.OK).count() == COUNT - 1
    assert job.items.get(status=JobItem.Status.FAILED).instance_id == instances[7].pk
    synced = AuditEntry.objects.filter(action=AuditEntry.Action.SYNCED)
    assert synced.count() == COUNT and synced.filter(actor=operator).count() == COUNT
    assert queue.results() == [("run_job", [job.pk], "SUCCESSFUL")]


def test_a_job_survives_its_worker_being_killed(queue, sandbox_site, operator, make_instance):
    instances = sandboxed(make_instance, sandbox_site.url, 60)
    job = jobs.start_job(
        kind=Job.Kind.EVENTS_ON, instances=ElementInstance.objects.all(), actor=operator
    )
    env = queue.env(sandbox_site.url, JOB_LEASE_SECONDS="2")
    first = queue.start_worker(env)
    try:
        wait_for(lambda: Job.objects.get(pk=job.pk).done >= 10, timeout=120, every=0.02)
    finally:
        kill(first)
    job.refresh_from_db()
    assert job.status == Job.Status.RUNNING and job.done < 60
    # Nobody renews the lease now; once it runs out the scheduler queues the job again.
    wait_for(lambda: jobs.recover_stalled_jobs(), timeout=10, every=0.2)
    second = queue.start_worker(env, batch=True)
    ok, output = queue.finish(second, timeout=300)

    assert ok, output
    job = finished(job)
    assert job and (job.status, job.done, job.failed, job.attempts) == ("done", 60, 0, 2)
    assert all(row.events_enabled for row in SandboxInstance.objects.all())
    # Never sent twice: at most one "events enabled" per instance (the one in flight when the
    # worker died was read back; if its change had landed, it was not resent).
    enabled = AuditEntry.objects.filter(action=AuditEntry.Action.EVENTS_ENABLED)
    per_instance = [enabled.filter(instance=i).count() for i in instances]
    assert max(per_instance) == 1 and sum(per_instance) >= 59


def test_a_cancelled_job_stops_in_the_worker_after_the_instance_in_flight(
    queue, sandbox_site, operator, make_instance
):
    sandboxed(make_instance, sandbox_site.url, 60)
    job = jobs.start_job(
        kind=Job.Kind.EVENTS_ON, instances=ElementInstance.objects.all(), actor=operator
    )
    worker = queue.start_worker(queue.env(sandbox_site.url), batch=True)
    try:
        wait_for(lambda: Job.objects.get(pk=job.pk).done >= 5, timeout=120, every=0.02)
        jobs.cancel_job(job=job, actor=operator)
        ok, output = queue.finish(worker, timeout=120)
    finally:
        if worker.poll() is None:
            kill(worker)

    assert ok, output
    job.refresh_from_db()
    assert job.status == Job.Status.CANCELLED and 5 <= job.done < 60
    assert job.items.filter(status=JobItem.Status.PENDING).count() == 60 - job.done
    # What was done was done once, and nothing after the cancel reached Cloud Elements.
    enabled = AuditEntry.objects.filter(action=AuditEntry.Action.EVENTS_ENABLED)
    assert enabled.count() == job.done
    assert sum(row.events_enabled for row in SandboxInstance.objects.all()) == job.done
    assert queue.results() == [("run_job", [job.pk], "SUCCESSFUL")]


def test_each_schedule_runs_once_per_period_with_two_schedulers(queue, sandbox_site, operator):
    env = queue.env(sandbox_site.url)
    away_from_a_period_boundary()
    command = [sys.executable, "manage.py", "run_schedules", "--once"]
    schedulers = [
        subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    outputs = [s.communicate(timeout=60)[0] for s in schedulers]

    assert all(s.returncode == 0 for s in schedulers)
    names = set(SCHEDULES)
    assert {row.name for row in ScheduleRun.objects.all()} == names
    assert ScheduleRun.objects.count() == len(names)
    queued = "".join(outputs).split()
    assert sorted(n for n in queued if n != "queued") == sorted(names)
    # Two workers take them: each schedule's task runs exactly once.
    workers = [queue.start_worker(env, batch=True) for _ in range(2)]
    finished_well = [queue.finish(worker, timeout=120) for worker in workers]
    assert all(ok for ok, _ in finished_well), finished_well
    results = queue.results()
    scheduled = [(name, args, status) for name, args, status in results if name == "run_schedule"]
    assert sorted(args[0] for _, args, _ in scheduled) == sorted(names)
    assert {status for _, _, status in scheduled} == {"SUCCESSFUL"}
    # The discovery queued its scan as a job of its own; nothing else was queued.
    assert {name for name, _, _ in results} <= {"run_schedule", "run_job"}
