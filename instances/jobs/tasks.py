"""The job engine's entry point for the task worker (django-tasks): thin, as every task here.

The schedules' task (`run_schedule`) lives with the schedules, so that no module queues a task
defined above it (services → tasks → engine, never back).
"""

from __future__ import annotations

import contextlib

from django.db import DatabaseError, connection
from django_tasks import task

from instances.jobs import engine


@task()
def run_job(job_id: int) -> str:
    try:
        return engine.run_job(job_id)
    except DatabaseError:
        # The connection may be dead (a killed backend, a database restart). Drop it, so that
        # the worker records this task's failure on a fresh one and carries on instead of
        # dying (and, under honcho, taking the web process down with it). The job resumes
        # once its lease runs out (services.recover_stalled_jobs); in-flight items are read back.
        with contextlib.suppress(DatabaseError):  # already broken: close() forgets it anyway
            connection.close()
        raise
