"""**Replay**: queue a destination's events of a time window again, as a job with progress.

The job walks the window's events oldest first, a batch at a time, keeping only those the
destination's filters match, and queues each one (a delivery made, or one that failed or was
refused, or with `which="all"` any that is not being sent, put back to pending). Its cursor is
the last event queued, so a job resumed after its worker died goes on from there. The sending
is the forwarder's, as for any delivery; the order in which the app receives them is not
promised (the README says so), and `webhook-id` lets the app drop what it already has.
"""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.db.models import Exists, F, OuterRef, Q
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from instances.events.models import EventNotification
from instances.forwarding import services
from instances.forwarding.models import Delivery, Destination
from instances.jobs import engine
from instances.jobs import services as jobs
from instances.jobs.models import Job
from instances.models import ElementInstance, Tag

BATCH = 1_000
State = Delivery.State
WHICH = {
    "failed": "Events not delivered (failed, refused, or never sent to it)",
    "all": "Every event, delivered or not",
}


def start_replay(
    *, destination: Destination, since: datetime, until: datetime, which: str, actor
) -> Job:
    scope = {
        "destination": destination.pk,
        "since": since.isoformat(),
        "until": until.isoformat(),
        "which": which,
    }
    with transaction.atomic():
        job = Job.objects.create(
            kind=Job.Kind.REPLAY,
            scope=scope,
            created_by=actor if getattr(actor, "is_authenticated", False) else None,
        )
        transaction.on_commit(lambda: jobs.enqueue(job))
    return job


def window_events(destination: Destination, since: datetime, until: datetime):
    """The window's events the destination's instance filters match (its event types are
    checked per event: a notification may hold several)."""
    events = EventNotification.objects.filter(received_at__gte=since, received_at__lt=until)
    if destination.element_keys:
        events = events.filter(instance__element_key__in=destination.element_keys)
    if destination.tags:
        # Lower case as `outbox.matches` has it (Python's: SQLite's LOWER() is ASCII only).
        wanted = set(destination.tags)
        names = Tag.objects.values_list("pk", "name")
        tag_ids = [pk for pk, name in names if name.lower() in wanted]
        tagged = ElementInstance.tags.through.objects.filter(
            elementinstance_id=OuterRef("instance_id"), tag_id__in=tag_ids
        )
        events = events.filter(Exists(tagged))
    chosen = Destination.instances.through.objects.filter(destination_id=destination.pk)
    if chosen.exists():
        events = events.filter(Exists(chosen.filter(elementinstance_id=OuterRef("instance_id"))))
    if destination.event_types:
        events = events.filter(Q(event_type__in=destination.event_types) | Q(event_type="MIXED"))
    return events


def _wanted(destination: Destination, event: EventNotification) -> bool:
    if not destination.event_types:
        return True
    return any(item.get("eventType") in destination.event_types for item in event.events)


def run_replay(job: Job) -> str:
    destination = Destination.objects.get(pk=job.scope["destination"])
    since = parse_datetime(job.scope["since"])
    until = parse_datetime(job.scope["until"])
    events = window_events(destination, since, until)
    if not job.total:
        engine.keep_going(job, total=events.count())
    last_at, last_id = _cursor(job.cursor)
    queued = job.summary.get("queued", 0)
    while True:
        batch = events
        if last_at is not None:
            batch = batch.filter(
                Q(received_at__gt=last_at) | Q(received_at=last_at, pk__gt=last_id)
            )
        rows = list(batch.order_by("received_at", "pk").only("pk", "received_at", "events")[:BATCH])
        if not rows:
            break
        queued += _queue(destination, [e for e in rows if _wanted(destination, e)], job)
        last_at, last_id = rows[-1].received_at, rows[-1].pk
        if not engine.keep_going(
            job,
            done=F("done") + len(rows),
            cursor=f"{last_at.isoformat()}|{last_id}",
            summary={"queued": queued},
        ):
            return "stopped"
    Job.objects.filter(pk=job.pk, status=Job.Status.RUNNING, attempts=job.attempts).update(
        status=Job.Status.DONE, finished_at=timezone.now(), lease_expires_at=None
    )
    return "done"


def _cursor(value: str) -> tuple[datetime | None, int]:
    if not value:
        return None, 0
    moment, pk = value.rsplit("|", 1)
    return parse_datetime(moment), int(pk)


def _queue(destination: Destination, events: list[EventNotification], job: Job) -> int:
    """Queue these events for the destination; returns how many were."""
    if destination.deleted_at is not None or not events:
        return 0
    now = timezone.now()
    ids = [event.pk for event in events]
    existing = Delivery.objects.filter(destination=destination, event_id__in=ids)
    known = set(existing.values_list("event_id", flat=True))
    again = existing
    if job.scope.get("which") != "all":
        again = existing.filter(state__in=[State.FAILED, State.REFUSED])
    with transaction.atomic():
        count = services.queue_again(again, now)
        made = Delivery.objects.bulk_create(
            [
                Delivery(event_id=pk, destination=destination, next_attempt_at=now, created_at=now)
                for pk in ids
                if pk not in known
            ],
            ignore_conflicts=True,
        )
    return count + len(made)
