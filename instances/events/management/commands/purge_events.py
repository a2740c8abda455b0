"""`manage.py purge_events`: the retention purge on demand (instances/events/purge.py)."""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from instances.events.purge import purge_events, retention_cutoff


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
