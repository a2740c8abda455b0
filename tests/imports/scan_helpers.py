"""Running the account scans as the task worker would, and reading what they left behind."""

from __future__ import annotations

from instances.jobs import engine
from instances.jobs.models import Job
from instances.models import ElementInstance


def run_scan(kind: str = Job.Kind.IMPORT, actor=None) -> Job:
    job = Job.objects.create(kind=kind, created_by=actor)
    assert engine.run_job(job.pk) == "done"
    job.refresh_from_db()
    return job


def local(remote_id: int) -> ElementInstance:
    return (
        ElementInstance.objects.select_related("webhook")
        .prefetch_related("tags")
        .get(remote_id=remote_id)
    )
