"""Scheduled work, each schedule once per period however many schedulers and workers run.

`manage.py run_schedules` (one per deployment is enough; more are harmless) inserts a
ScheduleRun row (name, period start) for every schedule whose period has begun: the unique
pair is the lock, so only the scheduler whose insert succeeds queues the task. The work runs
in a task worker like any job.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django_tasks import task

from instances import consent
from instances.alerts import dispatch as alerts
from instances.campaigns import services as campaigns
from instances.events.purge import purge_events
from instances.health import sweep as health
from instances.imports import scan as imports
from instances.jobs import services as jobs
from instances.jobs.models import Job, ScheduleRun
from instances.models import ElementInstance

logger = logging.getLogger(__name__)
Status = ElementInstance.Status
# Instances reconciled per run; the next period takes the rest.
RECONCILE_BATCH = 200


@dataclass(frozen=True)
class Schedule:
    name: str
    minutes: Callable[[], int]
    action: Callable[[], str]


def reconcile_unknown() -> str:
    """Ask Cloud Elements about instances left *unknown* past the grace period."""
    cutoff = timezone.now() - consent._reconcile_grace()
    waiting = ElementInstance.objects.filter(status=Status.UNKNOWN, updated_at__lt=cutoff)
    count = 0
    for instance in waiting.order_by("updated_at")[:RECONCILE_BATCH]:
        consent.reconcile(instance=instance, actor=None)
        count += 1
    return f"reconciled {count}"


def health_check() -> str:
    """A job over the active instances: GET each, which records `valid` and `disabled`."""
    active = ElementInstance.objects.filter(status=Status.ACTIVE, remote_id__isnull=False)
    if not active.exists():
        return "no active instances"
    job = jobs.start_job(kind=Job.Kind.HEALTH_CHECK, instances=active, actor=None)
    return f"job {job.pk}"


def purge_events_past_retention() -> str:
    """Delete events older than EVENT_RETENTION_DAYS in small batches (see `purge_events`)."""
    events, day_rows = purge_events(days=settings.EVENT_RETENTION_DAYS)
    return f"purged {events} events and {day_rows} daily counts"


def discover() -> str:
    """Scan the account: new instances (imported or listed, per IMPORT_NEW_INSTANCES), drift,
    instances deleted at Cloud Elements. One scan at a time: a running one is left to finish."""
    running = imports.running_scan()
    if running is not None:
        return f"job {running.pk} still scanning"
    return f"job {imports.start(kind=Job.Kind.DISCOVER).pk}"


def health_sweep() -> str:
    """Keep each instance's problems and the incidents current, then tell who should know."""
    result = health.sweep()
    queued = alerts.dispatch()
    return f"{result['opened']} problems found, {result['resolved']} resolved, {len(queued)} alerts"


def campaigns_tick() -> str:
    """Campaigns: e-mails whose retry came due, reminder rounds, links that expired."""
    done = campaigns.tick()
    return (
        f"{done['sent']} e-mails sent, {done['reminded']} reminders due, {done['expired']} expired"
    )


def recover_jobs() -> str:
    return f"recovered {len(jobs.recover_stalled_jobs())}"


SCHEDULES = {
    s.name: s
    for s in (
        Schedule("recover_jobs", lambda: 1, recover_jobs),
        Schedule(
            "reconcile_unknown", lambda: settings.SCHEDULE_RECONCILE_MINUTES, reconcile_unknown
        ),
        Schedule("health_check", lambda: settings.SCHEDULE_HEALTH_CHECK_MINUTES, health_check),
        Schedule(
            "purge_events", lambda: settings.SCHEDULE_PURGE_MINUTES, purge_events_past_retention
        ),
        Schedule("discover", lambda: settings.SCHEDULE_DISCOVERY_MINUTES, discover),
        Schedule("health_sweep", lambda: settings.SCHEDULE_HEALTH_SWEEP_MINUTES, health_sweep),
        Schedule("campaigns", lambda: settings.SCHEDULE_CAMPAIGNS_MINUTES, campaigns_tick),
    )
}


def period_start(minutes: int, now: datetime) -> datetime:
    """The start of the period `now` falls in, periods counted from the Unix epoch."""
    epoch = int(now.timestamp())
    step = max(1, minutes) * 60
    return now - timedelta(seconds=epoch % step, microseconds=now.microsecond)


def tick(now: datetime | None = None) -> list[str]:
    """Queue every schedule whose period began and that no scheduler queued yet."""
    now = now or timezone.now()
    queued = []
    for schedule in SCHEDULES.values():
        start = period_start(schedule.minutes(), now)
        try:
            with transaction.atomic():
                ScheduleRun.objects.create(name=schedule.name, period_start=start)
                run_schedule.enqueue(schedule.name)
        except IntegrityError:
            continue
        queued.append(schedule.name)
    return queued


def run(name: str) -> str:
    result = SCHEDULES[name].action()
    logger.info("schedule %s: %s", name, result)
    return result


@task()
def run_schedule(name: str) -> str:
    """The task `tick` queues: one schedule's work, in a task worker."""
    return run(name)
