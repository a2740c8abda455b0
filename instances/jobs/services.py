"""Jobs over many instances: start, cancel, retry, recover (the running is in engine.py).

Progress lives in JobItem rows, so it is exact, and "retry the failed ones" is a new job over
those items.
"""

from __future__ import annotations

import logging

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from instances import forms, search
from instances.jobs.engine import MAX_ATTEMPTS
from instances.jobs.models import Job, JobItem
from instances.jobs.tasks import run_job
from instances.models import ElementInstance

logger = logging.getLogger(__name__)

Kind = Job.Kind
Item = JobItem.Status
# Kinds an operator may start on selected instances (bulk actions).
BULK_KINDS = (Kind.EVENTS_ON, Kind.EVENTS_OFF, Kind.SYNC, Kind.DISABLE, Kind.ENABLE)


class JobError(Exception):
    """A request about a job its state does not allow; nothing changed."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


# --- Starting, cancelling, retrying (called from views and the admin) ----------------------


def start_job(*, kind: str, instances: QuerySet[ElementInstance] | list[int], actor) -> Job:
    """Create the job and one item per instance, then queue it once the rows are committed."""
    ids = (
        list(instances.order_by("pk").values_list("pk", flat=True))
        if isinstance(instances, QuerySet)
        else sorted(set(instances))
    )
    if not ids:
        raise JobError("No instances were selected, so no job was started.")
    with transaction.atomic():
        job = Job.objects.create(
            kind=kind,
            created_by=actor if getattr(actor, "is_authenticated", False) else None,
            total=len(ids),
        )
        JobItem.objects.bulk_create(
            [JobItem(job=job, instance_id=pk) for pk in ids], batch_size=500
        )
        transaction.on_commit(lambda: enqueue(job))
    return job


def start_filter_job(*, kind: str, query: str, actor) -> Job:
    """A job over every instance the list's filter matches: the job records the filter, and
    the worker makes the items (not thousands of ids in a form, nor in this request)."""
    count = search.count_matching(forms.matching(query)).count
    if not count:
        raise JobError("No instance matches this filter, so no job was started.")
    with transaction.atomic():
        job = Job.objects.create(
            kind=kind,
            created_by=actor if getattr(actor, "is_authenticated", False) else None,
            total=count,
            scope={"query": query, "words": forms.describe(query)},
            items_ready=False,
        )
        transaction.on_commit(lambda: enqueue(job))
    return job


def start_sync_all(*, actor) -> Job:
    active = ElementInstance.objects.filter(
        status=ElementInstance.Status.ACTIVE, remote_id__isnull=False
    )
    if not active.exists():
        raise JobError("There is no active instance to sync.")
    return start_job(kind=Kind.SYNC_ALL, instances=active, actor=actor)


def enqueue(job: Job) -> None:
    run_job.enqueue(job.pk)


def cancel_job(*, job: Job, actor, campaign_stopped: bool = False) -> Job:
    """Stop a queued or running job: the item in flight finishes, the rest are skipped.

    A campaign's job stops with its campaign (**Stop the campaign** revokes its links too);
    alone, it would leave the campaign half made."""
    if job.kind == Kind.CAMPAIGN and not campaign_stopped:
        raise JobError("This is a campaign's job: stop the campaign on its page instead.")
    changed = Job.objects.filter(
        pk=job.pk, status__in=[Job.Status.QUEUED, Job.Status.RUNNING]
    ).update(
        status=Job.Status.CANCELLED,
        finished_at=timezone.now(),
        cancelled_by=actor if getattr(actor, "is_authenticated", False) else None,
    )
    job.refresh_from_db()
    if not changed:
        raise JobError(
            f"This job is already {job.get_status_display().lower()}; nothing to cancel."
        )
    return job


def retry_failed(*, job: Job, actor) -> Job:
    """A new job of the same kind over this job's failed items."""
    if not job.finished:
        raise JobError("This job is still running; retry its failures once it has finished.")
    failed = list(
        job.items.filter(status=Item.FAILED).order_by("pk").values_list("instance_id", flat=True)
    )
    if not failed:
        raise JobError("This job has no failed instances to retry.")
    kind = Kind.SYNC if job.kind == Kind.SYNC_ALL else job.kind
    new = start_job(kind=kind, instances=failed, actor=actor)
    Job.objects.filter(pk=new.pk).update(retry_of=job)
    new.retry_of = job
    return new


def progress(job: Job) -> dict:
    """What the job page and its JSON endpoint show."""

    def listed(status: str) -> list[dict]:
        return [
            {
                "instance": item.instance.name,
                "url": item.instance.get_absolute_url(),
                "message": item.message,
            }
            for item in job.items.filter(status=status).select_related("instance")[:200]
        ]

    failures = listed(Item.FAILED)
    skipped = listed(Item.SKIPPED) if job.skipped else []
    if job.summary.get("reasons"):
        skipped += [{"instance": "", "url": "", "message": r} for r in job.summary["reasons"]]
    return {
        "id": job.pk,
        "kind": job.get_kind_display(),
        "status": job.status,
        "status_display": job.get_status_display(),
        "finished": job.finished,
        "total": job.total,
        "done": job.done,
        "failed": job.failed,
        "skipped": job.skipped,
        "succeeded": max(0, job.done - job.failed - job.skipped),
        "failures": failures,
        "skipped_items": skipped,
        "summary": {k: v for k, v in job.summary.items() if k != "reasons"},
        "error": job.error,
        "scope": job.scope.get("words", []),
    }


def recover_stalled_jobs() -> list[int]:
    """Queue again every running job whose worker stopped renewing its lease."""
    now = timezone.now()
    stalled = list(
        Job.objects.filter(status=Job.Status.RUNNING, lease_expires_at__lt=now).values_list(
            "pk", flat=True
        )
    )
    recovered = []
    # A job that keeps losing its worker (a crash it causes itself) stops being retried.
    Job.objects.filter(
        pk__in=stalled, status=Job.Status.RUNNING, attempts__gte=MAX_ATTEMPTS
    ).update(status=Job.Status.FAILED, finished_at=now, lease_expires_at=None)
    for pk in stalled:
        # Only the scheduler that flips it queues it, so two schedulers never queue it twice.
        if Job.objects.filter(pk=pk, status=Job.Status.RUNNING, lease_expires_at__lt=now).update(
            status=Job.Status.QUEUED
        ):
            logger.warning("Job %s lost its worker; queued again", pk)
            enqueue(Job(pk=pk))
            recovered.append(pk)
    return recovered


# --- What the instance list shows about jobs and health -------------------------------------

NEEDS_REAUTHORIZATION = search.NEEDS_REAUTHORIZATION


# The list counts at most this many instances needing re-authorization ("1000+" beyond).
NOTICE_COUNT_CAP = 1000


def _capped_count(queryset, cap: int) -> int:
    """COUNT over at most `cap` rows (a LIMIT in a subquery): constant cost at any size."""
    return queryset.order_by().values("pk")[:cap].count()


def running_jobs(limit: int = 5) -> list[Job]:
    """The newest queued or running jobs, for the notices that link to them (one query)."""
    running = Job.objects.filter(status__in=[Job.Status.QUEUED, Job.Status.RUNNING])
    return list(running.order_by("-created_at")[:limit])


def list_notices() -> dict:
    """Running jobs to link to, and how many instances the health check found needing consent."""
    return {
        "running_jobs": running_jobs(),
        "needs_reauthorization": _capped_count(
            ElementInstance.objects.filter(NEEDS_REAUTHORIZATION), NOTICE_COUNT_CAP
        ),
        "needs_reauthorization_cap": NOTICE_COUNT_CAP,
    }
