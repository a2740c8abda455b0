"""Queue scheduled work once per period (instances/jobs/schedules.py); started by the Procfile."""

from __future__ import annotations

import time

from django.core.management.base import BaseCommand
from django.db import close_old_connections

from instances.jobs import schedules
from instances.jobs.outage import CONNECTION_ERRORS, wait_for_database


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
            try:
                queued = schedules.tick()
            except CONNECTION_ERRORS as error:
                if once:
                    raise
                # Survive any outage: wait for the database, then check again at once.
                wait_for_database(error, who="scheduler")
                continue
            for name in queued:
                self.stdout.write(f"queued {name}")
            if once:
                return
            try:
                time.sleep(interval)
            except KeyboardInterrupt:
                return
