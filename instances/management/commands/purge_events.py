"""Delete received events older than EVENT_RETENTION_DAYS, in small batches.

Each batch is one short statement (at most --batch-size rows by id), so the events table is
never locked for long and the receiver keeps storing meanwhile. The per-day counts of purged
days go too. Run it daily (cron, or the task engine once there is one).
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from time import sleep

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from instances.models import EventDailyCount, EventNotification


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
        # Nothing refers to an event, so this is one DELETE … WHERE id IN (…), committed alone.
        count, _ = EventNotification.objects.filter(pk__in=ids).delete()
        deleted += count
        if pause:
            sleep(pause)
    days_deleted, _ = EventDailyCount.objects.filter(day__lt=cutoff.date()).delete()
    return deleted, days_deleted


class Command(BaseCommand):
    help = "Delete received event notifications older than EVENT_RETENTION_DAYS, in batches."

    def add_arguments(self, parser):
        parser.add_argument("--batch-size", type=int, default=1_000)
        parser.add_argument(
            "--pause", type=float, default=0.0, help="Seconds to wait between batches."
        )

    def handle(self, *args, batch_size: int, pause: float, **options):
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1.")
        days = settings.EVENT_RETENTION_DAYS
        events, day_rows = purge_events(days=days, batch_size=batch_size, pause=pause)
        self.stdout.write(
            f"Deleted {events} event notifications received before "
            f"{retention_cutoff(days):%Y-%m-%d} ({days} days kept) and {day_rows} daily counts."
        )
