"""Send received events on to the destinations (instances/forwarding/sender.py); started by the
Procfile. Run as many as you like, on any hosts: each destination's in-flight limit holds
across them all."""

from __future__ import annotations

import signal
import threading

from django.conf import settings
from django.core.management.base import BaseCommand

from instances.forwarding import sender


class Command(BaseCommand):
    help = "Forward received events to the destinations (loop, or --once for what is due now)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--once", action="store_true", help="Send what is due, then exit.")
        parser.add_argument(
            "--concurrency",
            type=int,
            default=settings.FORWARDING_CONCURRENCY,
            help="Deliveries sent at once (default FORWARDING_CONCURRENCY).",
        )

    def handle(self, *, once: bool, concurrency: int, **options) -> None:
        if once:
            outcomes = sender.forward_due(concurrency=concurrency)
            counted = ", ".join(f"{n} {k}" for k, n in sorted(outcomes.items()))
            self.stdout.write(counted or "none due")
            return
        stop = threading.Event()
        # SIGTERM (honcho, systemd, a deploy) and Ctrl-C: finish what is in flight, then exit.
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
        self.stdout.write(f"forwarding with {concurrency} at once")
        sender.forward_forever(
            stop=stop, concurrency=concurrency, poll=settings.FORWARDING_POLL_SECONDS
        )
