"""Thin task functions for the django-tasks worker: each calls jobs.py or services.py."""

from __future__ import annotations

from django_tasks import task

from . import jobs, schedules


@task()
def run_job(job_id: int) -> str:
    return jobs.run_job(job_id)


@task()
def run_schedule(name: str) -> str:
    return schedules.run(name)
