"""The alert outbox: after each health sweep, make the deliveries that are due (an incident
opened, resolved, or still open a day after it was last told) and queue what is pending.

The incidents' state is the outbox: a delivery is made once per channel and event (a unique
constraint), whoever runs this and however often.
"""

from __future__ import annotations

from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone

from instances.alerts.models import Channel, Delivery
from instances.alerts.services import REMIND_EVERY, RESOLVED_LOOKBACK, concerns
from instances.alerts.tasks import send_alert
from instances.health.models import Incident

Event = Delivery.Event
Status = Delivery.Status


def dispatch(now: datetime | None = None) -> list[int]:
    """Make the deliveries that are due and send what is pending and due; returns their ids."""
    now = now or timezone.now()
    channels = list(Channel.objects.filter(enabled=True))
    open_incidents = list(Incident.objects.filter(resolved_at__isnull=True))
    resolved = list(Incident.objects.filter(resolved_at__gte=now - RESOLVED_LOOKBACK))
    for channel in channels:
        for incident in open_incidents:
            if concerns(channel, incident):
                _make(channel, incident, Event.OPENED)
                _remind_if_due(channel, incident, now)
        for incident in resolved:
            told = Delivery.objects.filter(channel=channel, incident=incident, event=Event.OPENED)
            if told.exists():
                _make(channel, incident, Event.RESOLVED)
    due = Delivery.objects.filter(
        status=Status.PENDING, next_attempt_at__lte=max(now, timezone.now())
    )
    ids = list(due.order_by("pk").values_list("pk", flat=True))
    for pk in ids:
        send_alert.enqueue(pk)
    return ids


def _make(channel: Channel, incident: Incident, event: str) -> None:
    try:
        with transaction.atomic():
            Delivery.objects.create(
                channel=channel, incident=incident, event=event, next_attempt_at=timezone.now()
            )
    except IntegrityError:
        pass  # made before (by this sweep's predecessor, or a concurrent one)


def _remind_if_due(channel: Channel, incident: Incident, now: datetime) -> None:
    last = (
        Delivery.objects.filter(
            channel=channel, incident=incident, event__in=[Event.OPENED, Event.REMINDER]
        )
        .order_by("-created_at")
        .first()
    )
    if last is not None and last.created_at <= now - REMIND_EVERY:
        Delivery.objects.create(
            channel=channel, incident=incident, event=Event.REMINDER, next_attempt_at=now
        )
