"""Jobs over many instances: start, run (in a task worker), cancel, retry, recover.

A job is a loop over the same service function as the single action (services.set_events,
services.sync): one remote call and one audit entry per instance, and one instance's failure
does not stop the others. Progress lives in JobItem rows, so it is exact, "retry the failed
ones" is a new job over those items, and a job resumed after its worker died skips what is done.
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta

from django.conf import settings
from django.db import DatabaseError, transaction
from django.db.models import F, Q, QuerySet
from django.db.models.functions import Coalesce
from django.utils import timezone

from . import cloud_elements as ce
from . import enablement, services
from .job_models import Job, JobItem
from .models import ElementInstance

logger = logging.getLogger(__name__)

Kind = Job.Kind
Item = JobItem.Status
# Kinds an operator may start on selected instances (bulk actions).
BULK_KINDS = (Kind.EVENTS_ON, Kind.EVENTS_OFF, Kind.SYNC, Kind.DISABLE, Kind.ENABLE)
# Kinds whose remote call is a GET: after a crash, a pending item is simply done (again).
IDEMPOTENT = (Kind.SYNC, Kind.SYNC_ALL, Kind.HEALTH_CHECK)
# Workers that may die on one job before it is marked failed.
MAX_ATTEMPTS = 5


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


def start_sync_all(*, actor) -> Job:
    active = ElementInstance.objects.filter(
        status=ElementInstance.Status.ACTIVE, remote_id__isnull=False
    )
    if not active.exists():
        raise JobError("There is no active instance to sync.")
    return start_job(kind=Kind.SYNC_ALL, instances=active, actor=actor)


def enqueue(job: Job) -> None:
    from .tasks import run_job  # tasks imports this module

    run_job.enqueue(job.pk)


def cancel_job(*, job: Job, actor) -> Job:
    """Stop a queued or running job: the item in flight finishes, the rest are skipped."""
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
    failures = [
        {
            "instance": item.instance.name,
            "url": item.instance.get_absolute_url(),
            "message": item.message,
        }
        for item in job.items.filter(status=Item.FAILED).select_related("instance")[:200]
    ]
    return {
        "id": job.pk,
        "kind": job.get_kind_display(),
        "status": job.status,
        "status_display": job.get_status_display(),
        "finished": job.finished,
        "total": job.total,
        "done": job.done,
        "failed": job.failed,
        "failures": failures,
    }


# --- Running (in the task worker) ----------------------------------------------------------


def _lease() -> timedelta:
    return timedelta(seconds=settings.JOB_LEASE_SECONDS)


def claim(job_id: int) -> int | None:
    """Take the job for this worker: queued, or running with a lease that ran out.

    Returns the attempt number, which the worker's every later write checks: a worker that lost
    its lease (it stalled, another took over) stops at its next item instead of racing on.
    """
    now = timezone.now()
    claimed = (
        Job.objects.filter(pk=job_id)
        .filter(
            Q(status=Job.Status.QUEUED) | Q(status=Job.Status.RUNNING, lease_expires_at__lt=now)
        )
        .update(
            status=Job.Status.RUNNING,
            started_at=Coalesce(F("started_at"), now),
            lease_expires_at=now + _lease(),
            attempts=F("attempts") + 1,
        )
    )
    if not claimed:
        return None
    return Job.objects.values_list("attempts", flat=True).get(pk=job_id)


def run_job(job_id: int) -> str:
    """Work through the job's unfinished items; safe to call again after a crash."""
    attempt = claim(job_id)
    if attempt is None:
        return "not claimed"
    job = Job.objects.select_related("created_by").get(pk=job_id)
    job.attempts = attempt
    items = (
        job.items.filter(status__in=[Item.PENDING, Item.IN_FLIGHT])
        .select_related("instance__webhook")
        .order_by("pk")
    )
    last = 0
    while True:
        batch = list(items.filter(pk__gt=last)[:100])
        if not batch:
            break
        for item in batch:
            last = item.pk
            if not _run_item(job, item):
                return "stopped"
    # The counts from the items themselves, so that they are exact whatever happened on the way.
    finished = job.items.exclude(status__in=[Item.PENDING, Item.IN_FLIGHT])
    Job.objects.filter(pk=job_id, status=Job.Status.RUNNING, attempts=attempt).update(
        status=Job.Status.DONE,
        finished_at=timezone.now(),
        lease_expires_at=None,
        done=finished.count(),
        failed=finished.filter(status=Item.FAILED).count(),
    )
    return "done"


def _run_item(job: Job, item: JobItem) -> bool:
    """Run one item and record it; False when the job was cancelled meanwhile."""
    resumed = item.status == Item.IN_FLIGHT
    if not resumed and job.kind not in IDEMPOTENT:
        # Written before the call, so that after a crash this item is read back, not resent.
        JobItem.objects.filter(pk=item.pk).update(status=Item.IN_FLIGHT)
    status, message = _attempt(job, item.instance, resumed=resumed)
    counters = {"done": F("done") + 1}
    if status == Item.FAILED:
        counters["failed"] = F("failed") + 1
    # One commit records the item and the progress, renews the lease and notices a cancel.
    with transaction.atomic():
        JobItem.objects.filter(pk=item.pk).update(
            status=status, message=message[:2000], finished_at=timezone.now()
        )
        still_mine = Job.objects.filter(
            pk=job.pk, status=Job.Status.RUNNING, attempts=job.attempts
        ).update(lease_expires_at=timezone.now() + _lease(), **counters)
    if not still_mine:
        # Cancelled meanwhile (count the item; the rest stay pending), or another worker took
        # the job over after this one's lease ran out (it counts the items itself).
        Job.objects.filter(pk=job.pk, status=Job.Status.CANCELLED).update(**counters)
    return bool(still_mine)


def _attempt(job: Job, instance: ElementInstance, *, resumed: bool) -> tuple[str, str]:
    """The single action, waiting out rate limits a bounded number of times."""
    actor = job.created_by
    for attempt in range(settings.JOB_RATE_LIMIT_RETRIES + 1):
        try:
            return _act(job.kind, instance, actor=actor, resumed=resumed)
        except ce.CloudElementsRateLimitedError as error:
            if attempt == settings.JOB_RATE_LIMIT_RETRIES:
                return Item.FAILED, error.message
            wait = min(error.retry_after, settings.JOB_MAX_RETRY_AFTER_SECONDS)
            # Keep the lease while waiting, so that nobody takes the job over meanwhile.
            Job.objects.filter(pk=job.pk, status=Job.Status.RUNNING, attempts=job.attempts).update(
                lease_expires_at=timezone.now() + _lease() + timedelta(seconds=wait)
            )
            time.sleep(wait)
            # After a 503 the change may have been made: read back before sending again.
            resumed = resumed or error.ambiguous
        except services.ActionError as error:
            return Item.SKIPPED, error.message
        except ce.CloudElementsError as error:
            if job.kind in (Job.Kind.EVENTS_ON, Job.Kind.EVENTS_OFF):
                # Say what the switch left behind (unchanged, read back, or unknown).
                return Item.FAILED, services.events_error_message(instance, error)
            return Item.FAILED, error.message
        except DatabaseError:
            raise  # the database is away: the task fails, the lease runs out, the job resumes
        except Exception:
            # A bug met on one instance must not stop the others (or loop the job forever).
            logger.exception("Job %s: unexpected error on instance %s", job.pk, instance.pk)
            return Item.FAILED, "Unexpected error; see the server log."
    return Item.FAILED, "Gave up."  # not reached


def _act(kind: str, instance: ElementInstance, *, actor, resumed: bool) -> tuple[str, str]:
    if kind in (Kind.SYNC, Kind.SYNC_ALL, Kind.HEALTH_CHECK):
        # Idempotent (a GET): a resumed item is simply done again.
        services.sync(instance=instance, actor=actor)
        if instance.remote_missing:
            return Item.FAILED, instance.last_error
        if kind == Kind.HEALTH_CHECK and (not instance.remote_valid or instance.remote_disabled):
            return Item.OK, "Needs re-authorization at Cloud Elements."
        return Item.OK, "Synced."
    if kind in (Kind.DISABLE, Kind.ENABLE):
        return _set_enabled(instance, enabled=kind == Kind.ENABLE, actor=actor, resumed=resumed)
    enabled = kind == Kind.EVENTS_ON
    state = "on" if enabled else "off"
    if resumed:
        # The worker may have died after Cloud Elements applied the change: read it back first
        # and send only if it is not there, never blindly twice.
        services.sync(instance=instance, actor=actor)
        if instance.remote_missing:
            return Item.FAILED, instance.last_error
        if instance.webhook.enabled == enabled:
            return Item.OK, f"Events already {state} at Cloud Elements (read back, not resent)."
    services.set_events(instance=instance, enabled=enabled, actor=actor)
    return Item.OK, f"Events turned {state}."


def _set_enabled(
    instance: ElementInstance, *, enabled: bool, actor, resumed: bool
) -> tuple[str, str]:
    verb = "enabled" if enabled else "disabled"
    if resumed:
        # As for events: the change may have landed before the worker died; read it back.
        services.sync(instance=instance, actor=actor)
        if instance.remote_missing:
            return Item.FAILED, instance.last_error
        if instance.remote_disabled is not enabled:
            return Item.OK, f"Already {verb} at Cloud Elements (read back, not resent)."
    enablement.set_enabled(instance=instance, enabled=enabled, actor=actor)
    return Item.OK, f"{verb.capitalize()} at Cloud Elements."


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

NEEDS_REAUTHORIZATION = Q(status=ElementInstance.Status.ACTIVE) & (
    Q(remote_valid=False) | Q(remote_disabled=True)
)


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
