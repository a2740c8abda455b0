"""Thin task functions for the django-tasks worker: each calls jobs.py or services.py."""

from __future__ import annotations

import contextlib

from django.db import DatabaseError, connection
from django_tasks import task

from . import jobs, schedules


@task()
def run_job(job_id: int) -> str:
    try:
        return jobs.run_job(job_id)
    except DatabaseError:
        # The connection may be dead (a killed backend, a database restart). Drop it, so that
        # the worker records this task's failure on a fresh one and carries on instead of
        # dying (and, under honcho, taking the web process down with it). The job resumes
        # once its lease runs out (jobs.recover_stalled_jobs); in-flight items are read back.
        with contextlib.suppress(DatabaseError):  # already broken: close() forgets it anyway
            connection.close()
        raise


@task()
def run_schedule(name: str) -> str:
    return schedules.run(name)
