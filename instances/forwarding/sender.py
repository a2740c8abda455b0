"""The forwarder: claim due deliveries, POST them signed, record every attempt, retry.

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
from django.db import DatabaseError, connection, transaction
from django.db.models import Exists, F, OuterRef, Prefetch, Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from instances.forwarding import message, services, transport
from instances.forwarding.models import Attempt, Delivery, Destination
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


def claim(*, now: datetime, limit: int) -> list[Delivery]:
    """Take up to `limit` due deliveries, no destination past its in-flight limit."""
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


# -- sending ---------------------------------------------------------------------------------


def send(delivery: Delivery, *, now: datetime | None = None) -> str:
    """Send one claimed delivery and record the attempt; returns its outcome."""
    now = now or timezone.now()
    event, destination = delivery.event, delivery.destination
    instance = event.instance
    body = message.event_body(event, instance, [tag.name for tag in instance.tags.all()])
    msg_id = message.message_id(instance.uuid, event.dedup_key)
    # The signature's time is the wall clock's: the app checks it against its own.
    headers = message.headers(destination, msg_id, body, timezone.now())
    answer = transport.post(destination.url, body, headers)
    return _record_surely(delivery, answer, now=now)


# Waits between tries at recording an answer while the database is away (about 15 s in all).
RECORD_WAITS = (0.5, 1, 2, 4, 8)


def _record_surely(delivery: Delivery, answer: transport.Answer, *, now: datetime) -> str:
    """`record`, tried again while the connection is lost (a restart, a failover): the answer
    is known, so it is kept rather than sent again, and the destination's in-flight slot is
    freed at once instead of when the lease runs out. Raises if the database stays away."""
    for pause in (*RECORD_WAITS, None):
        try:
            return record(delivery, answer, now=now)
        except CONNECTION_ERRORS:
            if pause is None or connection.in_atomic_block:
                raise
            connection.close()
            time.sleep(pause)
    raise AssertionError("not reached")


def record(delivery: Delivery, answer: transport.Answer, *, now: datetime) -> str:
    """Write the attempt, the delivery's new state and the destination's health, together."""
    destination = delivery.destination
    first = delivery.first_attempt_at or now
    next_at = None
    if answer.delivered:
        outcome, state = Outcome.DELIVERED, State.DELIVERED
    elif not answer.retried:
        outcome, state = Outcome.REFUSED, State.REFUSED
    elif now >= first + retry_window():
        outcome, state = Outcome.GAVE_UP, State.FAILED
    else:
        outcome, state = Outcome.RETRY, State.PENDING
        wait_for = max(backoff(delivery.attempts), answer.retry_after or timedelta(0))
        next_at = min(now + wait_for, first + retry_window())
    with transaction.atomic():
        Attempt.objects.create(
            delivery_id=delivery.pk,
            number=delivery.attempts,
            started_at=now,
            duration_ms=answer.duration_ms,
            status=answer.status,
            outcome=outcome,
            error=answer.error[:300],
            response=answer.excerpt,
            next_attempt_at=next_at,
        )
        # Only while still this forwarder's (not taken over after its lease ran out).
        Delivery.objects.filter(
            pk=delivery.pk, state=State.SENDING, attempts=delivery.attempts
        ).update(
            state=state,
            next_attempt_at=next_at,
            lease_until=None,
            last_status=answer.status,
            last_error=answer.error[:300],
            finished_at=now if next_at is None else None,
        )
        if answer.delivered:
            # At most one write a second per destination, however many deliveries succeed.
            Destination.objects.filter(pk=destination.pk).filter(
                Q(failing_since__isnull=False)
                | Q(last_success_at__isnull=True)
                | Q(last_success_at__lt=now - timedelta(seconds=1))
            ).update(failing_since=None, last_success_at=now)
        else:
            # A refusal is the app's answer about one event, not the destination failing:
            # only failures that are retried count towards the automatic pause.
            failing = Coalesce(F("failing_since"), now) if answer.retried else F("failing_since")
            Destination.objects.filter(pk=destination.pk).update(
                failing_since=failing, last_failure_at=now, last_failure=answer.error[:300]
            )
    if answer.retried and not answer.delivered:
        logger.info(
            "delivery %s to %s (%s): %s", delivery.pk, destination.pk, destination.host, outcome
        )
        services.pause_if_failing_too_long(destination.pk, now=now)
    return outcome


def send_safely(delivery: Delivery, now: datetime | None = None) -> str:
    """`send` that never raises: a delivery that could not be recorded is left to its lease
    (claimed again once it runs out)."""
    try:
        return send(delivery, now=now)
    except DatabaseError:
        logger.exception("delivery %s: not recorded; it is sent again later", delivery.pk)
        return "not recorded"
    except Exception:
        logger.exception("delivery %s: unexpected error; it is sent again later", delivery.pk)
        return "error"


def _in_thread(delivery: Delivery, now: datetime | None = None) -> str:
    """`send_safely` in a pool thread, whose connection is dropped when it went bad."""
    try:
        return send_safely(delivery, now)
    finally:
        connection.close_if_unusable_or_obsolete()


# -- the loop ---------------------------------------------------------------------------------


def forward_due(*, now: datetime | None = None, concurrency: int | None = None) -> dict[str, int]:
    """Send everything due, in rounds, until nothing more is; count the outcomes. `now` (the
    tests' clock) holds for the whole run; without it each round reads the wall clock, so that
    a long run's leases start when their deliveries are claimed."""
    concurrency = concurrency or settings.FORWARDING_CONCURRENCY
    outcomes: dict[str, int] = {}

    def rounds(limit: int):
        while batch := claim(now=now or timezone.now(), limit=limit):
            yield batch

    if concurrency == 1:
        # In this thread (and its transaction: the tests').
        for batch in rounds(50):
            for delivery in batch:
                outcome = send_safely(delivery, now)
                outcomes[outcome] = outcomes.get(outcome, 0) + 1
        return outcomes
    with ThreadPoolExecutor(concurrency, thread_name_prefix="forward") as pool:
        for batch in rounds(concurrency * 4):
            for outcome in pool.map(lambda d: _in_thread(d, now), batch):
                outcomes[outcome] = outcomes.get(outcome, 0) + 1
    return outcomes


def forward_forever(*, stop: threading.Event, concurrency: int, poll: float) -> None:
    """Keep `concurrency` deliveries going while there are due ones; stop when told to (after
    the ones in flight)."""
    running: set[Future] = set()
    with ThreadPoolExecutor(concurrency, thread_name_prefix="forward") as pool:
        while not stop.is_set():
            running = {future for future in running if not future.done()}
            free = concurrency - len(running)
            try:
                batch = claim(now=timezone.now(), limit=free) if free else []
            except CONNECTION_ERRORS as error:
                if not wait_for_database(
                    error, who="forwarder", keep_waiting=lambda: not stop.is_set()
                ):
                    break
                continue
            running |= {pool.submit(_in_thread, delivery) for delivery in batch}
            if batch:
                continue
            if running:
                wait(running, timeout=poll, return_when=FIRST_COMPLETED)
            else:
                stop.wait(poll)
