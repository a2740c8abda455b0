"""Instances at the sandbox in bulk, and real task workers in subprocesses, for the job tests.

The workers are those of either task backend: django-tasks-db's `db_worker` on the test
database, or RQ's `rqworker` on a Redis database of the tests' own (TEST_REDIS_URL).
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

from django.conf import settings
from django.db import connection

from instances.models import ElementInstance
from instances.sandbox.models import SandboxInstance

ROOT = Path(__file__).resolve().parent.parent


def sandboxed(make_instance, site_url: str, count: int, *, events: bool = False, prefix="Bulk"):
    """`count` active instances, each backed by a real sandbox instance (rows written directly:
    going through consent for each would test the consent screen, not jobs)."""
    remote = SandboxInstance.objects.bulk_create(
        [_remote(f"{prefix} {n:04d}", events=events, site_url=site_url) for n in range(count)]
    )
    if not remote or remote[0].pk is None:  # SQLite before RETURNING: read the ids back
        remote = list(SandboxInstance.objects.filter(name__startswith=prefix).order_by("pk"))
    local = []
    for row in remote:
        instance = make_instance(
            row.name,
            status=ElementInstance.Status.ACTIVE,
            remote_id=row.pk,
            remote_token=row.token,
        )
        local.append(instance)
    return local


def _remote(name: str, *, events: bool, site_url: str) -> SandboxInstance:
    row = SandboxInstance(
        element_key="dropbox", name=name, token=SandboxInstance.new_token(), tags=[]
    )
    row.set_configuration(
        {
            "oauth.api.key": "sandbox-app-key",
            "oauth.api.secret": "sandbox-app-secret-0001",
            "oauth.callback.url": f"{site_url}/instances/oauth/callback/",
            "event.notification.enabled": events,
            "event.notification.callback.url": f"{site_url}/webhooks/x/",
        }
    )
    return row


def worker_env(site_url: str, **extra: str) -> dict[str, str]:
    """The environment of a worker process sharing this test's database and sandbox."""
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        url = f"sqlite:///{db['NAME']}"
    else:
        auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
        url = f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "SITE_URL": site_url,
        "FIELD_ENCRYPTION_KEYS": ",".join(settings.FIELD_ENCRYPTION_KEYS),
        "CLOUD_ELEMENTS_BASE_URL": "",
        **extra,
    }
    env.pop("PYTEST_XDIST_WORKER", None)
    return env


def start_worker(env: dict[str, str], *args: str) -> subprocess.Popen:
    """A django-tasks-db worker (`--batch`: until the queue is empty)."""
    command = [sys.executable, "manage.py", "db_worker", "--no-reload", "--interval", "0.1"]
    return _start([*command, "--no-startup-delay", *args], env)


def _start(command: list[str], env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


# RQ status → django-tasks status, as the results are compared across backends.
RQ_STATUSES = {
    "finished": "SUCCESSFUL",
    "failed": "FAILED",
    "queued": "READY",
    "started": "RUNNING",
}


class QueueBackend:
    """One task backend as the worker tests use it: its settings, its workers, its results."""

    def __init__(self, name: str, redis_url: str = "") -> None:
        self.name = name
        self.redis_url = redis_url

    @property
    def path(self) -> str:
        return settings.RQ_BACKEND if self.name == "rq" else settings.DATABASE_BACKEND

    def env(self, site_url: str, **extra: str) -> dict[str, str]:
        return worker_env(site_url, TASKS_BACKEND=self.path, REDIS_URL=self.redis_url, **extra)

    def start_worker(self, env: dict[str, str], *, batch: bool = False) -> subprocess.Popen:
        if self.name == "database":
            return start_worker(env, *(["--batch"] if batch else []))
        command = [sys.executable, "manage.py", "rqworker", "default"]
        command += ["--job-class", "django_tasks_rq.backend.Job", "--worker-ttl", "30"]
        return _start([*command, *(["--burst"] if batch else [])], env)

    def finish(self, worker: subprocess.Popen, *, timeout: float) -> tuple[bool, str]:
        """Wait for a batch worker to run out of work; (whether it ended well, its output).

        An RQ worker logs "done, quitting" once it has run everything and signed off; its exit
        can then lag by up to a minute (rq 3.0 joins its Redis pub/sub thread, which may sit in
        a 60-second read), so it is stopped there: its work is over.
        """
        if self.name == "database":
            output, _ = worker.communicate(timeout=timeout)
            return worker.returncode == 0, output
        lines: list[str] = []
        done = threading.Event()

        def read() -> None:
            for line in worker.stdout:
                lines.append(line)
                if "done, quitting" in line:
                    done.set()
            done.set()

        threading.Thread(target=read, daemon=True).start()
        if not done.wait(timeout):
            raise AssertionError(f"the worker did not finish in {timeout} s")
        try:
            worker.wait(timeout=5)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()
        output = "".join(lines)
        return "done, quitting" in output and "Traceback" not in output, output

    def results(self) -> list[tuple[str, list, str]]:
        """(task name, arguments, status) of every task queued, whatever ran it."""
        if self.name == "database":
            from django_tasks_db.models import DBTaskResult

            return [
                (r.task_path.rsplit(".", 1)[1], r.args_kwargs["args"], r.status)
                for r in DBTaskResult.objects.all()
            ]
        import django_rq
        from rq.job import Job as RQJob

        queue = django_rq.get_queue("default")
        ids = [
            *queue.get_job_ids(),
            *queue.started_job_registry.get_job_ids(),
            *queue.finished_job_registry.get_job_ids(),
            *queue.failed_job_registry.get_job_ids(),
        ]
        jobs = RQJob.fetch_many(ids, connection=queue.connection)
        return [
            (job.func_name.rsplit(".", 1)[1], list(job.args), RQ_STATUSES[job.get_status()])
            for job in jobs
            if job is not None
        ]


def wait_for(condition, *, timeout: float = 120.0, every: float = 0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout} s")


def away_from_a_period_boundary(seconds_needed: float = 15) -> None:
    """Wait, if need be, so that the next `seconds_needed` fall within one minute: every
    schedule's period (1 minute for recover_jobs, 5 for reconcile_unknown...) starts on a
    minute, and schedulers on either side of one rightly queue each period once."""
    into_the_minute = time.time() % 60
    if into_the_minute > 60 - seconds_needed:
        time.sleep(61 - into_the_minute)
