"""Running a job in the task worker: claim it, work through its items, keep the lease.

A job is a loop over the same service function as the single action (services.set_events,
services.sync): one remote call and one audit entry per instance, and one instance's failure
does not stop the others. Progress lives in JobItem rows, so it is exact, and a job resumed
after its worker died skips what is done and reads back what was in flight.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.db import DatabaseError, transaction
from django.db.models import F, Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from instances import enablement, forms, services
from instances.cloud_elements import client as ce
from instances.jobs.models import Job, JobItem
from instances.lib import audit_context
from instances.models import ElementInstance

logger = logging.getLogger(__name__)

Kind = Job.Kind
Item = JobItem.Status
# Kinds whose remote call is a GET: after a crash, a pending item is simply done (again).
IDEMPOTENT = (Kind.SYNC, Kind.SYNC_ALL, Kind.HEALTH_CHECK)
# Workers that may die on one job before it is marked failed.
MAX_ATTEMPTS = 5
# Jobs over the whole account rather than over instances (import, discovery) are run by the
# package that owns them; it registers its runner here when the app is ready.
RUNNERS: dict[str, Callable[[Job], str]] = {}


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
    # The history of every instance the job changes names what started it (an API token).
    with audit_context.acting(job.via):
        return _run(job)


def _run(job: Job) -> str:
    attempt, job_id = job.attempts, job.pk
    if job.kind in RUNNERS:
        return RUNNERS[job.kind](job)
    if not job.items_ready and not _make_items(job):
        return "stopped"
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
        skipped=finished.filter(status=Item.SKIPPED).count(),
    )
    return "done"


def keep_going(job: Job, **fields) -> bool:
    """Renew the lease (and write `fields`) if the job is still this worker's; False when it
    was cancelled or taken over meanwhile."""
    return bool(
        Job.objects.filter(pk=job.pk, status=Job.Status.RUNNING, attempts=job.attempts).update(
            lease_expires_at=timezone.now() + _lease(), **fields
        )
    )


# Items made per statement for a job started from a filter.
ITEM_BATCH = 2_000


def _make_items(job: Job) -> bool:
    """One item per instance matching the job's filter, made in batches that a resumed worker
    simply repeats (an instance is in a job once); False when the job was cancelled meanwhile."""
    matching = forms.matching(job.scope.get("query", "")).order_by("pk")
    last = 0
    while True:
        ids = list(matching.filter(pk__gt=last).values_list("pk", flat=True)[:ITEM_BATCH])
        if not ids:
            break
        JobItem.objects.bulk_create(
            [JobItem(job_id=job.pk, instance_id=pk) for pk in ids], ignore_conflicts=True
        )
        last = ids[-1]
        if not keep_going(job):
            return False
    return keep_going(job, items_ready=True, total=job.items.count())


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
    elif status == Item.SKIPPED:
        counters["skipped"] = F("skipped") + 1
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
