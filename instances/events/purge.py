"""Delete received events older than EVENT_RETENTION_DAYS, in small batches.

Each batch is one short statement (at most `batch_size` rows by id), so the events table is
never locked for long and the receiver keeps storing meanwhile. The per-day counts of purged
days go too, and the events' forwarding record (deliveries and their attempts). The
`purge_events` schedule runs it daily; `manage.py purge_events` on demand.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from time import sleep

from django.utils import timezone

from instances.events.models import EventDailyCount, EventNotification
from instances.forwarding.models import Attempt, Delivery


def retention_cutoff(days: int) -> datetime:
    """Start of the oldest kept local day: events before it go, with their days' counts."""
    first_kept = timezone.localdate() - timedelta(days=days)
    return timezone.make_aware(datetime.combine(first_kept, time.min))


def purge_events(*, days: int, batch_size: int = 1_000, pause: float = 0.0) -> tuple[int, int]:
    """Delete events received before the cutoff, batch by batch; return (events, day rows)."""
    cutoff = retention_cutoff(days)
    old = EventNotification.objects.filter(received_at__lt=cutoff).order_by()
    deleted = 0
    while True:
        ids = list(old.values_list("pk", flat=True)[:batch_size])
        if not ids:
            break
        # Their forwarding record first (attempts, then deliveries), each one DELETE … IN (…);
        # then the events themselves, to which nothing refers any more.
        Attempt.objects.filter(delivery__event_id__in=ids).delete()
        Delivery.objects.filter(event_id__in=ids).delete()
        _, counts = EventNotification.objects.filter(pk__in=ids).delete()
        deleted += counts.get(EventNotification._meta.label, 0)
        if pause:
            sleep(pause)
    days_deleted, _ = EventDailyCount.objects.filter(day__lt=cutoff.date()).delete()
    return deleted, days_deleted
