"""Queue scheduled work once per period (instances/jobs/schedules.py); started by the Procfile."""

from __future__ import annotations

import time

from django.core.management.base import BaseCommand
from django.db import close_old_connections

from instances.jobs import schedules


class Command(BaseCommand):
    help = "Queue each schedule once per period, however many schedulers run (loop or --once)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--once", action="store_true", help="Check once, then exit.")
        parser.add_argument(
            "--interval", type=float, default=15.0, help="Seconds between checks (default 15)."
        )

    def handle(self, *, once: bool, interval: float, **options) -> None:
        while True:
            close_old_connections()
            for name in schedules.tick():
                self.stdout.write(f"queued {name}")
            if once:
                return
            try:
                time.sleep(interval)
            except KeyboardInterrupt:
                return
