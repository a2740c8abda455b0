"""The real task worker (`manage.py db_worker`, django-tasks-db) and scheduler in subprocesses,
sharing the test database and the live server's sandbox: a job completes, a worker killed with
SIGKILL mid-job is replaced and the job finishes without resending, a schedule runs once with
two schedulers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest
from django_tasks_db.models import DBTaskResult

from instances.jobs import services as jobs
from instances.jobs.models import Job, JobItem, ScheduleRun
from instances.models import AuditEntry, ElementInstance
from instances.sandbox.models import SandboxInstance
from tests.job_helpers import ROOT, sandboxed, start_worker, wait_for, worker_env

pytestmark = pytest.mark.django_db(transaction=True)
COUNT = int(os.environ.get("JOB_TEST_INSTANCES", "200"))


def finished(job: Job) -> Job | None:
    job.refresh_from_db()
    return job if job.finished else None


def test_the_worker_runs_a_sync_job_over_many_instances(sandbox_site, operator, make_instance):
    instances = sandboxed(make_instance, sandbox_site.url, COUNT)
    SandboxInstance.objects.filter(pk=instances[7].remote_id).delete()
    job = jobs.start_job(
        kind=Job.Kind.SYNC, instances=ElementInstance.objects.all(), actor=operator
    )

    worker = start_worker(worker_env(sandbox_site.url), "--batch")
    output, _ = worker.communicate(timeout=600)

    assert worker.returncode == 0, output
    job.refresh_from_db()
    assert (job.status, job.total, job.done, job.failed) == ("done", COUNT, COUNT, 1)
    assert job.items.filter(status=JobItem.Status.OK).count() == COUNT - 1
    assert job.items.get(status=JobItem.Status.FAILED).instance_id == instances[7].pk
    synced = AuditEntry.objects.filter(action=AuditEntry.Action.SYNCED)
    assert synced.count() == COUNT and synced.filter(actor=operator).count() == COUNT
    assert DBTaskResult.objects.get().status == "SUCCESSFUL"


def test_a_job_survives_its_worker_being_killed(sandbox_site, operator, make_instance):
    instances = sandboxed(make_instance, sandbox_site.url, 60)
    job = jobs.start_job(
        kind=Job.Kind.EVENTS_ON, instances=ElementInstance.objects.all(), actor=operator
    )
    env = worker_env(sandbox_site.url, JOB_LEASE_SECONDS="2")
    first = start_worker(env)
    try:
        wait_for(lambda: Job.objects.get(pk=job.pk).done >= 10, timeout=120, every=0.02)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
    finally:
        first.kill()
    job.refresh_from_db()
    assert job.status == Job.Status.RUNNING and job.done < 60
    # Nobody renews the lease now; once it runs out the scheduler queues the job again.
    wait_for(lambda: jobs.recover_stalled_jobs(), timeout=10, every=0.2)
    second = start_worker(env, "--batch")
    output, _ = second.communicate(timeout=300)

    assert second.returncode == 0, output
    job = finished(job)
    assert job and (job.status, job.done, job.failed, job.attempts) == ("done", 60, 0, 2)
    assert all(row.events_enabled for row in SandboxInstance.objects.all())
    # Never sent twice: at most one "events enabled" per instance (the one in flight when the
    # worker died was read back; if its change had landed, it was not resent).
    enabled = AuditEntry.objects.filter(action=AuditEntry.Action.EVENTS_ENABLED)
    per_instance = [enabled.filter(instance=i).count() for i in instances]
    assert max(per_instance) == 1 and sum(per_instance) >= 59


def test_each_schedule_runs_once_per_period_with_two_schedulers(sandbox_site, operator):
    env = worker_env(sandbox_site.url)
    command = [sys.executable, "manage.py", "run_schedules", "--once"]
    schedulers = [
        subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    outputs = [s.communicate(timeout=60)[0] for s in schedulers]

    assert all(s.returncode == 0 for s in schedulers)
    names = {"recover_jobs", "reconcile_unknown", "health_check", "purge_events"}
    assert {row.name for row in ScheduleRun.objects.all()} == names
    assert ScheduleRun.objects.count() == len(names)
    queued = "".join(outputs).split()
    assert sorted(n for n in queued if n != "queued") == sorted(names)
    # Two workers take them: each schedule's task runs exactly once.
    workers = [start_worker(env, "--batch") for _ in range(2)]
    for worker in workers:
        worker.communicate(timeout=120)
    results = DBTaskResult.objects.all()
    assert results.count() == len(names)
    assert {r.status for r in results} == {"SUCCESSFUL"}
    assert sorted(r.args_kwargs["args"][0] for r in results) == sorted(names)
