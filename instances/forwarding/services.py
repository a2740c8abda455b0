"""What an operator (page, admin, API) does with destinations and deliveries: pause, resume,
rotate the secret, resend, send a test, delete; and the automatic pause of a destination that
has been failing for too long, which opens an incident for the alert channels."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from instances.events.models import EventNotification
from instances.forwarding import message, transport
from instances.forwarding.models import Delivery, Destination, Queued, new_signing_secret
from instances.health.models import Incident

logger = logging.getLogger(__name__)
State = Delivery.State
# The incident kind of a paused destination (alert channels may filter on it).
PAUSED_KIND = "destination_paused"
# After a rotation the previous secret still signs for this long (Stripe keeps it up to 24 h).
ROTATION_OVERLAP = timedelta(hours=24)
# The queue's length is counted up to this many; past it, "more than".
QUEUE_COUNT_CAP = 10_000


class ForwardingError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def subject(destination: Destination) -> str:
    return f"destination:{destination.pk}"


def pause(destination: Destination, *, reason: str) -> bool:
    """Stop sending to the destination; deliveries keep queueing. False if already paused."""
    paused = Destination.objects.filter(
        pk=destination.pk, paused_at__isnull=True, deleted_at__isnull=True
    ).update(paused_at=timezone.now(), paused_reason=reason[:300])
    destination.refresh_from_db()
    return bool(paused)


def pause_if_failing_too_long(destination_id: int, *, now: datetime) -> bool:
    """Pause a destination whose every attempt failed for DESTINATION_DISABLE_AFTER_HOURS,
    and open an incident about it (told by the alert channels). Once, however many
    forwarders notice it together."""
    hours = settings.DESTINATION_DISABLE_AFTER_HOURS
    since = now - timedelta(hours=hours)
    reason = f"Paused automatically: every delivery failed for more than {hours} hours."
    with transaction.atomic():
        paused = Destination.objects.filter(
            pk=destination_id,
            paused_at__isnull=True,
            deleted_at__isnull=True,
            failing_since__lte=since,
        ).update(paused_at=now, paused_reason=reason)
        if not paused:
            return False
        destination = Destination.objects.get(pk=destination_id)
        Incident.objects.create(
            kind=PAUSED_KIND,
            subject=subject(destination),
            summary=(
                f"Forwarding to “{destination.name}” ({destination.host}) was paused after "
                f"failing for more than {hours} hours"
            )[:300],
            subject_url=destination.get_absolute_url(),
            opened_at=now,
            last_joined_at=now,
        )
    logger.warning(
        "destination %s (%s) paused: failing since %s",
        destination_id,
        destination.host,
        destination.failing_since,
    )
    return True


def resume(destination: Destination, *, now: datetime | None = None) -> int:
    """Send again: what queued meanwhile goes now (deliveries waiting for a retry too).
    Resolves the incident a pause opened. Returns how many deliveries were waiting."""
    now = now or timezone.now()
    with transaction.atomic():
        Destination.objects.filter(pk=destination.pk).update(
            paused_at=None, paused_reason="", failing_since=None
        )
        waiting = Delivery.objects.filter(destination=destination, state=State.PENDING)
        waiting.filter(next_attempt_at__gt=now).update(next_attempt_at=now)
        Incident.objects.filter(subject=subject(destination), resolved_at__isnull=True).update(
            resolved_at=now
        )
    destination.refresh_from_db()
    return queue_length(destination)


def queue_length(destination: Destination) -> int:
    """Deliveries waiting (pending) for the destination, counted up to QUEUE_COUNT_CAP + 1,
    with the events queued for it that the forwarder has not made deliveries of yet."""
    waiting = Delivery.objects.filter(destination=destination, state=State.PENDING)
    count = waiting.order_by()[: QUEUE_COUNT_CAP + 1].count()
    # Queued has no index but its key: a forwarder keeps it to a few rows; without one, this
    # scan stops at the cap.
    if count > QUEUE_COUNT_CAP:
        return count
    queued = Queued.objects.filter(destination=destination).order_by()
    return count + queued[: QUEUE_COUNT_CAP + 1 - count].count()


def rotate_secret(destination: Destination, *, now: datetime | None = None) -> None:
    """A new signing secret; the old one signs too (a second signature) for a day."""
    now = now or timezone.now()
    destination.previous_signing_secret = destination.signing_secret
    destination.previous_secret_expires_at = now + ROTATION_OVERLAP
    destination.signing_secret = new_signing_secret()
    destination.save(
        update_fields=["signing_secret", "previous_signing_secret", "previous_secret_expires_at"]
    )


def delete(destination: Destination) -> None:
    """Never sent to again; its deliveries stay as history until their events are purged."""
    Destination.objects.filter(pk=destination.pk).update(deleted_at=timezone.now())
    Incident.objects.filter(subject=subject(destination), resolved_at__isnull=True).update(
        resolved_at=timezone.now()
    )


def resend(*, event: EventNotification, destination: Destination) -> Delivery:
    """Send the event to the destination again (or for the first time), now. The app gets the
    same `webhook-id` as before."""
    if destination.deleted_at is not None:
        raise ForwardingError("This destination was deleted.")
    now = timezone.now()
    with transaction.atomic():
        delivery, made = Delivery.objects.select_for_update().get_or_create(
            event=event,
            destination=destination,
            defaults={"next_attempt_at": now, "created_at": now},
        )
        if not made:
            if delivery.state == State.SENDING:
                raise ForwardingError("It is being sent right now; its result shows shortly.")
            queue_again(Delivery.objects.filter(pk=delivery.pk), now)
    delivery.refresh_from_db()
    return delivery


def queue_again(deliveries, now: datetime) -> int:
    """Queue deliveries again as new: due now, a fresh retry window (attempts kept)."""
    return deliveries.exclude(state=State.SENDING).update(
        state=State.PENDING,
        next_attempt_at=now,
        first_attempt_at=None,
        finished_at=None,
        lease_until=None,
    )


def send_test(destination: Destination) -> transport.Answer:
    """**Send a test**: one signed `destination.test` message now, its answer shown at once
    (recorded nowhere: it is no event)."""
    now = timezone.now()
    body = message.test_body(destination, now)
    msg_id = "msg_test_" + now.strftime("%Y%m%d%H%M%S%f")
    return transport.post(destination.url, body, message.headers(destination, msg_id, body, now))


def forwarding_states(event_ids: list[int]) -> dict[int, list[tuple[str, str, int]]]:
    """Per event: its deliveries counted by state, as (state, label, count), for a page of
    events (one query)."""
    found: dict[int, dict[str, int]] = {}
    rows = (
        Delivery.objects.filter(event_id__in=event_ids).values_list("event_id", "state").order_by()
    )
    for event_id, state in rows:
        counts = found.setdefault(event_id, {})
        counts[state] = counts.get(state, 0) + 1
    labels = dict(State.choices)
    return {
        event_id: [(state, labels[state], n) for state, n in sorted(counts.items())]
        for event_id, counts in found.items()
    }
