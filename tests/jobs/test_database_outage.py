"""The task worker and the scheduler survive the database dropping their connection, idle or in
the middle of a task (PostgreSQL: `pg_terminate_backend` on their backends, as a restart or a
failover does): each logs the outage once, waits for the database, and carries on, and a job cut
off mid-way is resumed by its lease and finishes. Real processes on the test database.
Issue 26, item 1. (SQLite has no server connection to lose: PostgreSQL only.)"""

from __future__ import annotations

import subprocess
import sys

import pytest
from django.db import connection

from instances.jobs import services as jobs
from instances.jobs.models import Job, ScheduleRun
from instances.jobs.schedules import SCHEDULES
from instances.models import ElementInstance
from tests.job_helpers import (
    ROOT,
    away_from_a_period_boundary,
    sandboxed,
    wait_for,
    worker_env,
)

pytestmark = pytest.mark.django_db(transaction=True)
OUTAGE = "the database is unreachable"
BACK = "the database answers again"


def _env(site_url: str, name: str, **extra: str) -> dict[str, str]:
    env = worker_env(site_url, **extra)
    env["DATABASE_URL"] += f"?application_name={name}"
    return env


def _backends(name: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name = %s", [name])
        return cursor.fetchone()[0]


def _kill_backends(name: str) -> int:
    """Terminate the process's database connections, as a server restart would."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE application_name = %s",
            [name],
        )
        return cursor.fetchone()[0]


def _start(command: list[str], env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "manage.py", *command],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _stop(process: subprocess.Popen) -> str:
    process.terminate()
    output, _ = process.communicate(timeout=30)
    return output


if connection.vendor == "postgresql":

    def test_an_idle_worker_waits_out_a_lost_connection_then_runs_the_next_job(
        sandbox_site, operator, make_instance
    ):
        sandboxed(make_instance, sandbox_site.url, 5)
        env = _env(sandbox_site.url, "outage-worker")
        worker = _start(["db_worker", "--no-reload", "--interval", "0.1"], env)
        try:
            wait_for(lambda: _backends("outage-worker") >= 1, timeout=30)
            assert _kill_backends("outage-worker") >= 1
            job = jobs.start_job(
                kind=Job.Kind.SYNC, instances=ElementInstance.objects.all(), actor=operator
            )
            wait_for(lambda: Job.objects.get(pk=job.pk).finished, timeout=60)
            assert worker.poll() is None, "the worker is still running"
        finally:
            output = _stop(worker)

        assert Job.objects.get(pk=job.pk).status == Job.Status.DONE, output
        assert output.count(OUTAGE) == 1 and output.count(BACK) == 1, output

    def test_a_job_cut_off_mid_task_is_resumed_and_finishes(sandbox_site, operator, make_instance):
        sandboxed(make_instance, sandbox_site.url, 60)
        env = _env(sandbox_site.url, "outage-worker", JOB_LEASE_SECONDS="2")
        job = jobs.start_job(
            kind=Job.Kind.EVENTS_ON, instances=ElementInstance.objects.all(), actor=operator
        )
        worker = _start(["db_worker", "--no-reload", "--interval", "0.1"], env)
        try:
            wait_for(lambda: Job.objects.get(pk=job.pk).done >= 5, timeout=60, every=0.02)
            assert _kill_backends("outage-worker") >= 1
            # The task failed with its connection; once the lease runs out the job is queued
            # again (the scheduler's recover_jobs) and the same worker resumes it.
            wait_for(lambda: jobs.recover_stalled_jobs(), timeout=30, every=0.2)
            wait_for(lambda: Job.objects.get(pk=job.pk).finished, timeout=120)
            assert worker.poll() is None, "the worker is still running"
        finally:
            output = _stop(worker)

        job.refresh_from_db()
        assert (job.status, job.done, job.failed) == ("done", 60, 0), output

    def test_the_scheduler_waits_out_a_lost_connection_then_carries_on(sandbox_site):
        env = _env(sandbox_site.url, "outage-scheduler")
        # A new period would add rows: the counts below are of one period.
        away_from_a_period_boundary(seconds_needed=30)
        scheduler = _start(["run_schedules", "--interval", "0.2"], env)
        try:
            wait_for(lambda: ScheduleRun.objects.count() == len(SCHEDULES), timeout=30)
            assert _kill_backends("outage-scheduler") >= 1
            ScheduleRun.objects.all().delete()
            # Its next checks fail, then it reconnects and queues this period's work again.
            wait_for(lambda: ScheduleRun.objects.count() == len(SCHEDULES), timeout=30)
            assert scheduler.poll() is None, "the scheduler is still running"
        finally:
            output = _stop(scheduler)

        assert output.count(OUTAGE) == 1 and output.count(BACK) == 1, output


def test_an_error_that_is_no_outage_ends_the_worker_loudly(monkeypatch):
    # A missing table (a deploy without its migrations) is not waited out: it ends the worker.
    from django.db import ProgrammingError
    from django_tasks_db.management.commands import db_worker

    from instances.jobs.management.commands.db_worker import ResilientWorker

    def broken(self):
        raise ProgrammingError('relation "django_tasks_database_dbtaskresult" does not exist')

    monkeypatch.setattr(db_worker.Worker, "run", broken)
    worker = ResilientWorker(
        queue_names=["default"],
        interval=0.1,
        batch=True,
        backend_name="default",
        startup_delay=False,
        max_tasks=None,
        worker_id="loud",
        excluded_queue_names=[],
    )

    with pytest.raises(ProgrammingError):
        worker.run()
