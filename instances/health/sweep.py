"""The health sweep: find what changed since the last one and keep each instance's problems
current, then rewrite the attention page's counts from the open problems.

Invalid, disabled, deleted and drifted are read from the instance's own state, which the health
check, syncs and account scans keep: only instances updated since the last sweep are read.
Silent is a matter of time passing: events on, and nothing received for its quiet period.
Signature failures come from the receiver's hourly refusal counts; deliveries missing here from
Cloud Elements' account-wide event log, read from where the last sweep stopped. New problems
then join the open incident of their kind (or open one), and incidents whose problems are all
gone (or acknowledged) are resolved.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Exists, F, Max, OuterRef, Q, Sum
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from instances.cloud_elements import client as ce
from instances.events.ingest import id_key
from instances.events.models import EventNotification, SignatureRefusal
from instances.health.models import (
    Incident,
    MissingDelivery,
    Problem,
    ProblemCount,
    SweepMark,
)
from instances.models import ElementInstance

logger = logging.getLogger(__name__)
Kind = Problem.Kind
ACTIVE = ElementInstance.Status.ACTIVE
BATCH = 2_000
# Read again: instances changed just before the previous sweep's start (clocks, transactions
# that committed late).
OVERLAP = timedelta(minutes=1)
# Cloud Elements' event log: events this recent may still be on their way to the receiver.
IN_FLIGHT = timedelta(minutes=2)
NOTIFIED = "NOTIFIED"
EVENT_PAGE_SIZE = 200
MAX_EVENT_PAGES = 500

FLAGS: dict[str, Callable[[ElementInstance], bool]] = {
    Kind.INVALID: lambda i: i.status == ACTIVE and not i.remote_valid,
    Kind.DISABLED: lambda i: i.status == ACTIVE and i.remote_disabled,
    Kind.DELETED: lambda i: i.status == ACTIVE and i.remote_missing,
    Kind.DRIFTED: lambda i: i.status == ACTIVE and i.drifted,
}
F_ELEMENT = F("instance__element_key")
F_TAG = F("instance__tags__name")
FLAG_FIELDS = ("status", "remote_valid", "remote_disabled", "remote_missing", "drifted")


def sweep(now: datetime | None = None) -> dict[str, int]:
    now = now or timezone.now()
    mark = SweepMark.objects.order_by("pk").first() or SweepMark(
        changed_since=datetime(2000, 1, 1, tzinfo=UTC)
    )
    changes = [
        _flags(mark.changed_since, now),
        _silence(now),
        _refusals(now),
        _missing(mark, now),
    ]
    _group(now)
    recount()
    mark.changed_since = now - OVERLAP
    mark.finished_at = timezone.now()
    mark.save()
    result = {
        "opened": sum(opened for opened, _ in changes),
        "resolved": sum(resolved for _, resolved in changes),
    }
    logger.info("health sweep: %s", result)
    return result


def _flags(since: datetime, now: datetime) -> tuple[int, int]:
    changed = ElementInstance.objects.filter(updated_at__gte=since).order_by("pk")
    opened = resolved = 0
    last = 0
    while batch := list(changed.filter(pk__gt=last).only(*FLAG_FIELDS)[:BATCH]):
        last = batch[-1].pk
        wanted = {(i.pk, kind) for i in batch for kind, test in FLAGS.items() if test(i)}
        o, r = _apply(wanted, [i.pk for i in batch], list(FLAGS), now)
        opened, resolved = opened + o, resolved + r
    return opened, resolved


def _refusals(now: datetime) -> tuple[int, int]:
    """Instances whose signed deliveries were refused SIGNATURE_FAILURES_PER_HOUR times or more
    in the last hour (a key that differs here and at Cloud Elements, or someone forging)."""
    hour_ago = now - timedelta(hours=1)
    since = hour_ago.replace(minute=0, second=0, microsecond=0)
    bursts = (
        SignatureRefusal.objects.filter(hour__gte=since, instance__status=ACTIVE)
        .values("instance_id")
        .annotate(total=Sum("count"))
        .filter(total__gte=settings.SIGNATURE_FAILURES_PER_HOUR)
        .values_list("instance_id", flat=True)
    )
    return _set_exactly(Kind.SIGNATURES, set(bursts), now)


def _missing(mark: SweepMark, now: datetime) -> tuple[int, int]:
    """Deliveries Cloud Elements' account-wide event log says it NOTIFIED since the last check
    and the receiver never stored (pages of `GET /instances/events`, newest first, read back to
    where the last check ended: not one call per instance). Events of the last minutes may
    still be on their way: the next check judges them."""
    horizon = now - IN_FLIGHT
    listening = ElementInstance.objects.filter(status=ACTIVE, webhook__enabled=True)
    if not listening.exists() and not MissingDelivery.objects.exists():
        return 0, 0  # no instance expects events: nothing to compare
    since = mark.events_checked_until or now - timedelta(hours=settings.MISSING_LOOKBACK_HOURS)
    try:
        notified = _notified_between(since - OVERLAP, horizon)
    except ce.CloudElementsError as error:
        logger.warning("health sweep: Cloud Elements' event log unread: %s", error.message)
        notified = None
    if notified is not None:
        mark.events_checked_until = horizon
        _record_missing(notified)
    # Arrived after all (a retry succeeded), or too old to matter any more.
    arrived = EventNotification.objects.filter(
        instance=OuterRef("instance"), dedup_key=OuterRef("dedup_key")
    )
    MissingDelivery.objects.filter(Exists(arrived)).delete()
    keep = now - timedelta(days=settings.MISSING_KEEP_DAYS)
    MissingDelivery.objects.filter(notified_at__lt=keep).delete()
    having = set(MissingDelivery.objects.values_list("instance_id", flat=True).distinct())
    return _set_exactly(Kind.MISSING, having, now)


def _notified_between(since: datetime, until: datetime) -> list[tuple[int, str, datetime]]:
    """(Cloud Elements instance id, event id, when) of the NOTIFIED events in the window."""
    found, token = [], ""
    for _ in range(MAX_EVENT_PAGES):
        events, token = ce.list_account_events(page_size=EVENT_PAGE_SIZE, next_page=token)
        older = False
        for event in events:
            when = parse_datetime(event.event_date) if event.event_date else None
            if when is None:
                continue
            if when < since:
                older = True
                continue
            if event.status == NOTIFIED and when <= until and event.instance_id is not None:
                found.append((event.instance_id, event.notified_event_id, when))
        if older or not token:
            break
    return found


def _record_missing(notified: list[tuple[int, str, datetime]]) -> None:
    here = dict(
        ElementInstance.objects.filter(
            account=ce.account(), remote_id__in={rid for rid, _, _ in notified}
        ).values_list("remote_id", "pk")
    )
    wanted = [
        (here[rid], id_key("event", event_id), event_id, when)
        for rid, event_id, when in notified
        if rid in here
    ]
    stored = set(
        EventNotification.objects.filter(
            instance_id__in={pk for pk, _, _, _ in wanted},
            dedup_key__in={key for _, key, _, _ in wanted},
        ).values_list("instance_id", "dedup_key")
    )
    MissingDelivery.objects.bulk_create(
        [
            MissingDelivery(
                instance_id=pk, dedup_key=key, remote_event_id=event_id[:200], notified_at=when
            )
            for pk, key, event_id, when in wanted
            if (pk, key) not in stored
        ],
        ignore_conflicts=True,
    )


def _silence(now: datetime) -> tuple[int, int]:
    """Active instances with events on and no delivery for SILENT_AFTER_HOURS (counted from
    their creation when none ever came)."""
    listening = ElementInstance.objects.filter(status=ACTIVE, webhook__enabled=True).annotate(
        last=Max("daily_event_counts__last_received_at")
    )
    # The default period for most; the few with a period of their own, a query per period.
    own = listening.filter(webhook__quiet_hours__isnull=False).values_list(
        "webhook__quiet_hours", flat=True
    )
    periods = [(settings.SILENT_AFTER_HOURS, Q(webhook__quiet_hours__isnull=True))]
    periods += [(hours, Q(webhook__quiet_hours=hours)) for hours in sorted(set(own))]
    quiet: set[int] = set()
    for hours, which in periods:
        cutoff = now - timedelta(hours=hours)
        quiet |= set(
            listening.filter(which)
            .filter(Q(last__lt=cutoff) | Q(last__isnull=True, created_at__lt=cutoff))
            .values_list("pk", flat=True)
        )
    return _set_exactly(Kind.SILENT, quiet, now)


def _set_exactly(kind: str, having: set[int], now: datetime) -> tuple[int, int]:
    """`kind` open for exactly the instances in `having`."""
    already = set(
        Problem.objects.filter(kind=kind, resolved_at__isnull=True).values_list(
            "instance_id", flat=True
        )
    )
    ids = sorted(already | having)
    opened = resolved = 0
    for start in range(0, len(ids), BATCH):
        chunk = ids[start : start + BATCH]
        part = {(pk, kind) for pk in chunk if pk in having}
        o, r = _apply(part, chunk, [kind], now)
        opened, resolved = opened + o, resolved + r
    return opened, resolved


def _apply(wanted: set, instance_ids: list[int], kinds: list[str], now: datetime):
    """Open the wanted problems not open yet, resolve the open ones no longer wanted."""
    with transaction.atomic():
        open_now = {
            (p.instance_id, p.kind): p.pk
            for p in Problem.objects.filter(
                instance_id__in=instance_ids, kind__in=kinds, resolved_at__isnull=True
            ).only("instance_id", "kind")
        }
        new = [
            Problem(instance_id=pk, kind=kind, since=now, detail=DETAILS[kind])
            for pk, kind in sorted(wanted - set(open_now))
        ]
        Problem.objects.bulk_create(new, ignore_conflicts=True)
        gone = [pk for key, pk in open_now.items() if key not in wanted]
        Problem.objects.filter(pk__in=gone).update(resolved_at=now)
    return len(new), len(gone)


def _group(now: datetime) -> None:
    """New problems join the open incident of their kind, or open one together; an incident
    none of whose problems is open and unacknowledged any more is resolved."""
    loose = Problem.objects.filter(resolved_at__isnull=True, incident__isnull=True)
    for kind in loose.values_list("kind", flat=True).distinct():
        with transaction.atomic():
            incident = (
                Incident.objects.select_for_update()
                .filter(kind=kind, resolved_at__isnull=True, subject="")
                .order_by("-opened_at")
                .first()
            )
            if incident is None:
                incident = Incident.objects.create(kind=kind, opened_at=now, last_joined_at=now)
            else:
                incident.last_joined_at = now
            loose.filter(kind=kind).update(incident=incident)
            members = Problem.objects.filter(incident=incident)
            incident.instance_count = members.count()
            incident.elements = sorted(
                set(members.values_list("instance__element_key", flat=True).distinct()[:10])
            )
            incident.save()
    still = Problem.objects.filter(counted(), incident=OuterRef("pk"))
    open_here = Incident.objects.filter(resolved_at__isnull=True, subject="")
    open_here.exclude(Exists(still)).update(resolved_at=now)


DETAILS = {
    Kind.INVALID: "Cloud Elements marked it invalid: its owner must consent again.",
    Kind.DISABLED: "It is disabled at Cloud Elements: API calls are refused, no events come.",
    Kind.SILENT: "Events are on, but none arrived for longer than its quiet period.",
    Kind.DELETED: "Cloud Elements has no such instance any more.",
    Kind.DRIFTED: "Its name, tags or event settings differ at Cloud Elements.",
    Kind.SIGNATURES: "Signed deliveries were refused: their signature matched no key kept here.",
    Kind.MISSING: "Cloud Elements says it notified events that never arrived here.",
}


def counted() -> Q:
    """Open problems that count: not acknowledged, or acknowledged until a day now past."""
    today = timezone.localdate()
    return Q(resolved_at__isnull=True) & (
        Q(acknowledged_at__isnull=True)
        | Q(acknowledged_until__isnull=False, acknowledged_until__lt=today)
    )


def recount() -> None:
    """Rewrite the attention page's counts: grouped over the open problems only."""
    problems = Problem.objects.filter(counted())
    rows = [
        ProblemCount(kind=row["kind"], dimension="all", value="", count=row["n"])
        for row in problems.values("kind").annotate(n=Count("pk"))
    ]
    rows += [
        ProblemCount(kind=row["kind"], dimension="element", value=row["key"], count=row["n"])
        for row in problems.values("kind", key=F_ELEMENT).annotate(n=Count("pk"))
    ]
    rows += [
        ProblemCount(kind=row["kind"], dimension="tag", value=row["tag"], count=row["n"])
        for row in problems.filter(instance__tags__isnull=False)
        .values("kind", tag=F_TAG)
        .annotate(n=Count("pk"))
    ]
    with transaction.atomic():
        ProblemCount.objects.all().delete()
        ProblemCount.objects.bulk_create(rows)
