"""The forwarder: make deliveries of what the receiver queued, claim the due ones, POST them
signed, record every attempt, retry.

Claiming locks the destination's row for a moment, counts what is in flight to it and takes at
most `max_in_flight` minus that, so the limit holds across any number of forwarder processes,
and one slow destination occupies at most its own share of the threads. A claimed delivery is
*sending* under a lease; a forwarder that dies leaves it to be claimed again once the lease ran
out (at least once, never lost), and the lost attempt shows as interrupted.

A failure (network error, timeout, 408, 429, 5xx) is retried with exponential backoff and
jitter, honouring `Retry-After`, until FORWARDING_RETRY_HOURS after the first attempt; another
4xx or a redirect is refused and not retried. A destination failing for longer than
DESTINATION_DISABLE_AFTER_HOURS is paused (`services.pause_failing`), which raises an alert.

`forward_forever` is the loop of `manage.py forward`; `forward_due` sends what is due once (the
tests drive it with their own clock).
"""

from __future__ import annotations

import logging
import random
import threading
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from datetime import datetime, timedelta

from django.conf import settings
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.db.models import Exists, F, OuterRef, Prefetch, Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from instances.events.models import EventNotification
from instances.forwarding import message, services, transport
from instances.forwarding.models import Attempt, Delivery, Destination, Queued
from instances.jobs.outage import CONNECTION_ERRORS, wait_for_database
from instances.models import Tag

logger = logging.getLogger(__name__)
State = Delivery.State
Outcome = Attempt.Outcome
# The backoff: 30 s, doubling, at most 6 hours between attempts, each ±20 %.
FIRST_WAIT = timedelta(seconds=30)
LONGEST_WAIT = timedelta(hours=6)
JITTER = 0.2


def lease() -> timedelta:
    # Connect, wait for the answer, read its first bytes, record: well within this.
    return timedelta(seconds=2 * settings.FORWARDING_TIMEOUT_SECONDS + 30)


def retry_window() -> timedelta:
    return timedelta(hours=settings.FORWARDING_RETRY_HOURS)


def backoff(attempt: int) -> timedelta:
    """The wait after the `attempt`-th failure, with jitter."""
    base = min(FIRST_WAIT * 2 ** min(attempt - 1, 20), LONGEST_WAIT)
    jittered = base * random.uniform(1 - JITTER, 1 + JITTER)  # noqa: S311 (jitter, no secret)
    return min(jittered, LONGEST_WAIT)


# -- claiming ---------------------------------------------------------------------------------


PROMOTE_BATCH = 1_000


def promote(*, batch: int = PROMOTE_BATCH) -> int:
    """Turn what the receiver queued (`Queued` rows) into pending deliveries, `batch` rows a
    transaction; returns how many rows were taken. Rows another forwarder holds are skipped;
    an event purged or a destination deleted since is dropped."""
    taken = 0
    while True:
        try:
            count = _promote_batch(batch)
        except IntegrityError:
            # An event purged between the check and the commit: nothing was written, and the
            # next look leaves it out.
            logger.warning("queued events not made deliveries this time: one was just purged")
            return taken
        taken += count
        if count < batch:
            return taken


def _promote_batch(batch: int) -> int:
    with transaction.atomic():
        rows = list(
            Queued.objects.select_for_update(skip_locked=True)
            .order_by("pk")
            .values_list("pk", "event_id", "destination_id", "queued_at")[:batch]
        )
        if not rows:
            return 0
        events, destinations = _still_there(rows)
        Delivery.objects.bulk_create(
            (
                Delivery(
                    event_id=event_id,
                    destination_id=destination_id,
                    next_attempt_at=queued_at,
                    created_at=queued_at,
                )
                for _, event_id, destination_id, queued_at in rows
                if event_id in events and destination_id in destinations
            ),
            ignore_conflicts=True,
        )
        Queued.objects.filter(pk__in=[row[0] for row in rows]).delete()
    return len(rows)


def _still_there(rows: list[tuple]) -> tuple[set[int], set[int]]:
    """Of the queued rows' events and destinations, those not purged or deleted."""
    events = EventNotification.objects.filter(pk__in={row[1] for row in rows})
    destinations = Destination.objects.filter(
        pk__in={row[2] for row in rows}, deleted_at__isnull=True
    )
    return set(events.values_list("pk", flat=True)), set(destinations.values_list("pk", flat=True))


def claim(*, now: datetime, limit: int) -> list[Delivery]:
    """Take up to `limit` due deliveries, no destination past its in-flight limit (after
    promoting what the receiver queued since the last look)."""
    promote()
    taken: list[int] = []
    # Only destinations with work: one query, an index probe per destination (an idle
    # forwarder looks twice a second).
    waiting = Delivery.objects.filter(destination=OuterRef("pk"))
    due = waiting.filter(state=State.PENDING, next_attempt_at__lte=now)
    lost = waiting.filter(state=State.SENDING, lease_until__lte=now)
    live = Destination.objects.filter(deleted_at__isnull=True, paused_at__isnull=True).filter(
        Exists(due) | Exists(lost)
    )
    for destination_id in live.order_by("?").values_list("pk", flat=True):
        if len(taken) >= limit:
            break
        taken += _claim_for(destination_id, now=now, limit=limit - len(taken))
    if not taken:
        return []
    tags = Prefetch("event__instance__tags", queryset=Tag.objects.only("name"))
    return list(
        Delivery.objects.filter(pk__in=taken)
        .select_related("event__instance", "destination")
        .prefetch_related(tags)
        .order_by("pk")
    )


def _claim_for(destination_id: int, *, now: datetime, limit: int) -> list[int]:
    mine = Delivery.objects.filter(destination_id=destination_id)
    with transaction.atomic():
        # The lock makes the count and the claim one step for every forwarder.
        destination = (
            Destination.objects.select_for_update()
            .filter(pk=destination_id, paused_at__isnull=True, deleted_at__isnull=True)
            .only("max_in_flight")
            .first()
        )
        if destination is None:
            return []
        in_flight = mine.filter(state=State.SENDING, lease_until__gt=now).count()
        free = min(limit, destination.max_in_flight - in_flight)
        if free <= 0:
            return []
        # Deliveries whose forwarder died during the attempt come first: they waited longest.
        lost = list(
            mine.filter(state=State.SENDING, lease_until__lte=now)
            .order_by("lease_until")
            .values_list("pk", "attempts", "lease_until")[:free]
        )
        due = list(
            mine.filter(state=State.PENDING, next_attempt_at__lte=now)
            .order_by("next_attempt_at")
            .values_list("pk", flat=True)[: free - len(lost)]
        )
        if lost:
            Attempt.objects.bulk_create(
                Attempt(
                    delivery_id=pk,
                    number=number,
                    # When it was claimed: its lease ran from then.
                    started_at=until - lease(),
                    outcome=Outcome.INTERRUPTED,
                    error="The forwarder stopped during this attempt; sent again.",
                )
                for pk, number, until in lost
            )
        ids = [pk for pk, _, _ in lost] + due
        Delivery.objects.filter(pk__in=ids).update(
            state=State.SENDING,
            lease_until=now + lease(),
            attempts=F("attempts") + 1,
            first_attempt_at=Coalesce(F("first_attempt_at"), now),
        )
    return ids


# -- sending and recording --------------------------------------------------------------------


def deliver(delivery: Delivery) -> transport.Answer:
    """POST one claimed delivery (in a pool thread: no database, its rows were read with the
    claim). Never raises."""
    try:
        event, destination = delivery.event, delivery.destination
        instance = event.instance
        body = message.event_body(event, instance, [tag.name for tag in instance.tags.all()])
        msg_id = message.message_id(instance.uuid, event.dedup_key)
        # The signature's time is the wall clock's: the app checks it against its own.
        headers = message.headers(destination, msg_id, body, timezone.now())
    except Exception:
        logger.exception("delivery %s: could not be prepared", delivery.pk)
        return transport.Answer(error="Could not be prepared; see the server log.")
    return transport.post(destination.url, body, headers)


def send(delivery: Delivery, *, now: datetime | None = None) -> str:
    """Send one claimed delivery and record the attempt; returns its outcome."""
    return record_safely([(delivery, deliver(delivery))], now=now)[0]


# Waits between tries at recording answers while the database is away (about 15 s in all).
RECORD_WAITS = (0.5, 1, 2, 4, 8)


def record_safely(results: list[tuple[Delivery, transport.Answer]], *, now=None) -> list[str]:
    """`record`, tried again while the connection is lost (a restart, a failover): the answers
    are known, so they are kept rather than sent again, and the destination's in-flight slots
    are freed at once instead of when the leases run out. If the database stays away the
    deliveries are left to their leases (sent again later)."""
    for pause in (*RECORD_WAITS, None):
        try:
            return record(results, now=now)
        except CONNECTION_ERRORS as error:
            if pause is None or connection.in_atomic_block:
                break
            logger.warning(
                "the database connection was lost while recording %s answers (%s); "
                "trying again in %s s",
                len(results),
                type(error).__name__,
                pause,
            )
            connection.close()
            time.sleep(pause)
        except DatabaseError:
            break
    logger.error("%s deliveries not recorded; they are sent again later", len(results))
    return ["not recorded"] * len(results)


def _outcome(delivery: Delivery, answer: transport.Answer, now: datetime):
    """The attempt's outcome, the delivery's next state and, for a retry, when."""
    first = delivery.first_attempt_at or now
    if answer.delivered:
        return Outcome.DELIVERED, State.DELIVERED, None
    if not answer.retried:
        return Outcome.REFUSED, State.REFUSED, None
    if now >= first + retry_window():
        return Outcome.GAVE_UP, State.FAILED, None
    wait_for = max(backoff(delivery.attempts), answer.retry_after or timedelta(0))
    return Outcome.RETRY, State.PENDING, min(now + wait_for, first + retry_window())


def record(results: list[tuple[Delivery, transport.Answer]], *, now=None) -> list[str]:
    """Write the attempts, the deliveries' new states and their destinations' health in one
    transaction of a few statements, whatever the number of deliveries."""
    now = now or timezone.now()
    decided = [(d, a, *_outcome(d, a, now)) for d, a in results]
    with transaction.atomic():
        Attempt.objects.bulk_create(
            Attempt(
                delivery_id=d.pk,
                number=d.attempts,
                started_at=now,
                duration_ms=a.duration_ms,
                status=a.status,
                outcome=outcome,
                error=a.error[:300],
                response=a.excerpt,
                next_attempt_at=next_at,
            )
            for d, a, outcome, _, next_at in decided
        )
        # Only those still this forwarder's (not taken over after their lease ran out).
        mine = set(
            Delivery.objects.select_for_update()
            .filter(pk__in=[d.pk for d, *_ in decided], state=State.SENDING)
            .values_list("pk", "attempts")
        )
        _write_states(
            [
                (d, a, state, next_at, now)
                for d, a, _, state, next_at in decided
                if (d.pk, d.attempts) in mine
            ]
        )
        failing = _destination_health(decided, now)
    for destination_id in failing:
        services.pause_if_failing_too_long(destination_id, now=now)
    return [outcome for _, _, outcome, _, _ in decided]


STATE_FIELDS = [
    "state",
    "next_attempt_at",
    "lease_until",
    "last_status",
    "last_error",
    "finished_at",
]


def _write_states(changes: list) -> None:
    """The deliveries' new states: those given the same values (a batch delivered) in one
    UPDATE each, the rest (retries: each its own time) in one bulk_update. bulk_update's CASE
    per row and field, for a whole batch, was a fifth of the forwarder's CPU."""
    alike: dict[tuple, list[Delivery]] = {}
    for d, a, state, next_at, now in changes:
        d.state, d.next_attempt_at, d.lease_until = state, next_at, None
        d.last_status, d.last_error = a.status, a.error[:300]
        d.finished_at = now if next_at is None else None
        key = (d.state, d.next_attempt_at, d.last_status, d.last_error, d.finished_at)
        alike.setdefault(key, []).append(d)
    single = []
    for group in alike.values():
        if len(group) == 1:
            single += group
            continue
        Delivery.objects.filter(pk__in=[d.pk for d in group]).update(
            **{field: getattr(group[0], field) for field in STATE_FIELDS}
        )
    Delivery.objects.bulk_update(single, STATE_FIELDS)


def _destination_health(decided: list, now: datetime) -> set[int]:
    """Each destination's last answer of the batch says whether it is failing; returns the
    ones that are. A refusal is the app's answer about one event, not the destination
    failing: only failures that are retried count towards the automatic pause."""
    last: dict[int, transport.Answer] = {}
    last_failure: dict[int, transport.Answer] = {}
    for d, a, *_ in decided:
        last[d.destination_id] = a
        if not a.delivered:
            last_failure[d.destination_id] = a
    failing = set()
    for destination_id, answer in last.items():
        row = Destination.objects.filter(pk=destination_id)
        if answer.delivered:
            # At most one write a second per destination, however many deliveries succeed.
            row.filter(
                Q(failing_since__isnull=False)
                | Q(last_success_at__isnull=True)
                | Q(last_success_at__lt=now - timedelta(seconds=1))
            ).update(failing_since=None, last_success_at=now)
        if destination_id in last_failure:
            fields = {
                "last_failure_at": now,
                "last_failure": last_failure[destination_id].error[:300],
            }
            if not answer.delivered and answer.retried:
                fields["failing_since"] = Coalesce(F("failing_since"), now)
                failing.add(destination_id)
            row.update(**fields)
    return failing


# -- the loop ---------------------------------------------------------------------------------


def forward_due(*, now: datetime | None = None, concurrency: int | None = None) -> dict[str, int]:
    """Send everything due, in rounds, until nothing more is; count the outcomes. `now` (the
    tests' clock) holds for the whole run; without it each round reads the wall clock, so that
    a long run's leases start when their deliveries are claimed."""
    concurrency = concurrency or settings.FORWARDING_CONCURRENCY
    outcomes: dict[str, int] = {}
    with ThreadPoolExecutor(concurrency, thread_name_prefix="forward") as pool:
        while batch := claim(now=now or timezone.now(), limit=concurrency * 4):
            # One thread: in this one (and its transaction: the tests').
            answers = map(deliver, batch) if concurrency == 1 else pool.map(deliver, batch)
            for outcome in record_safely(list(zip(batch, answers, strict=True)), now=now):
                outcomes[outcome] = outcomes.get(outcome, 0) + 1
    return outcomes


def forward_forever(*, stop: threading.Event, concurrency: int, poll: float) -> None:
    """Keep `concurrency` deliveries going while there are due ones, recording the answers as
    they come, a batch at a time; stop when told to (after the ones in flight)."""
    running: dict[Future, Delivery] = {}
    with ThreadPoolExecutor(concurrency, thread_name_prefix="forward") as pool:
        while not stop.is_set():
            done = [future for future in running if future.done()]
            if done:
                record_safely([(running.pop(f), f.result()) for f in done])
            free = concurrency - len(running)
            try:
                batch = claim(now=timezone.now(), limit=free) if free else []
            except CONNECTION_ERRORS as error:
                if not wait_for_database(
                    error, who="forwarder", keep_waiting=lambda: not stop.is_set()
                ):
                    break
                continue
            for delivery in batch:
                running[pool.submit(deliver, delivery)] = delivery
            if batch:
                continue
            if running:
                wait(running, timeout=poll, return_when=FIRST_COMPLETED)
            else:
                stop.wait(poll)
        if running:
            record_safely([(running[f], f.result()) for f in wait(running).done])
