"""Benchmark (`make bench`): the receiver under load (wrk against gunicorn, as `load.py` runs
it) with one destination, with none, and with one and a forwarder sending meanwhile, against
/healthz in the same run; with the CPU each request costs gunicorn and PostgreSQL.

Printed, asserted only for sanity (every stored event queued for the destination).
"""

from __future__ import annotations

import resource
import statistics
import tempfile
import time
from pathlib import Path

import pytest
from django.conf import settings

from instances.forwarding import sender
from tests.benchmarks.forwarding import (
    Forwarders,
    delivery_states,
    drop_destinations,
    make_destination,
    postgres_cpu,
    process_tree_cpu,
    scalar,
    seed,
)
from tests.benchmarks.load import SPREAD, free_port, run_wrk, start_gunicorn, wrk_script
from tests.benchmarks.seeding import require_postgresql

require_postgresql()

# The forwarder and gunicorn read what this test writes: it must be committed.
pytestmark = pytest.mark.django_db(transaction=True)

# The load run's SPREAD names instances 2..1001.
LOAD_INSTANCES = 1_001

# Medians of five rounds: a burst of noise on a shared machine moves a mean, not a median.
ROUNDS, SECONDS = 5, 6
# After a wrk run: the requests it left in flight are answered (and stored) by then.
SETTLE = 0.5


def children_cpu() -> float:
    """CPU of this process's finished children (each wrk run)."""
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def test_the_receiver_with_forwarding_on(listener, summary):
    seed(LOAD_INSTANCES)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    serial = iter(range(2_000_000, 10_000_000, 50_000))
    variants = ("healthz", "destination", "none", "forwarder")
    rates: dict[str, list[float]] = {variant: [] for variant in variants}
    # Per request: ms of CPU of gunicorn, PostgreSQL (with the forwarder's sessions) and wrk.
    costs: dict[str, list[tuple[float, float, float]]] = {variant: [] for variant in variants}
    process = start_gunicorn(port)

    def measure(variant: str, url: str, lua: Path | None = None) -> None:
        app, database, client = process_tree_cpu(process.pid), postgres_cpu(), children_cpu()
        rps = run_wrk(url, SECONDS, lua)
        requests = rps * SECONDS / 1000
        app, database = process_tree_cpu(process.pid) - app, postgres_cpu() - database
        client = children_cpu() - client
        rates[variant].append(rps)
        costs[variant].append((app / requests, database / requests, client / requests))

    try:
        with tempfile.TemporaryDirectory() as scratch:
            directory = Path(scratch)

            def script(name: str) -> Path:
                return wrk_script(
                    directory, name, next(serial), 25_000, targets=SPREAD, stop_after=0
                )

            run_wrk(f"{base}/healthz", 2)
            make_destination(url=listener.url())
            run_wrk(base + "/", 2, script("warm.lua"))
            time.sleep(SETTLE)
            for n in range(ROUNDS):
                measure("healthz", f"{base}/healthz")
                # The first two swap places each round: neither always follows /healthz.
                order = ["destination", "none"][:: 1 if n % 2 == 0 else -1] + ["forwarder"]
                for variant in order:
                    lua = script(f"{variant}{n}.lua")
                    drop_destinations()
                    forwarders = None
                    if variant != "none":
                        limit = settings.FORWARDING_CONCURRENCY
                        destination = make_destination(max_in_flight=limit, url=listener.url())
                    if variant == "forwarder":
                        forwarders = Forwarders(1, settings.FORWARDING_CONCURRENCY)
                        time.sleep(2)  # its start-up, not measured
                    last = "SELECT coalesce(max(id), 0) FROM instances_eventnotification"
                    before = scalar(last)[0]
                    try:
                        measure(variant, base + "/", lua)
                    finally:
                        if forwarders:
                            output = forwarders.stop()
                            assert "Traceback" not in output, output[-5000:]
                    time.sleep(SETTLE)
                    sender.promote()  # what the forwarder (off, or stopped) left queued
                    stored, queued, missing = scalar(
                        "SELECT count(*), (SELECT count(*) FROM forwarding_delivery), count(*) "
                        "FILTER (WHERE NOT EXISTS (SELECT 1 FROM forwarding_delivery d WHERE "
                        "d.event_id = e.id)) FROM instances_eventnotification e WHERE e.id > %s",
                        [before],
                    )
                    assert stored > 0
                    if variant == "none":
                        assert queued == 0
                    else:
                        assert queued == stored and missing == 0, (variant, stored, queued)
                    if forwarders:
                        states = delivery_states(destination.pk)
                        sent = sum(k for state, k in states.items() if state != "pending")
                        print(
                            f"\n  (round {n + 1}: the forwarder sent {sent:,} of the {stored:,}"
                            f" deliveries queued during the {SECONDS} s)"
                        )
    finally:
        process.terminate()
        process.wait(timeout=10)
    health_rps = statistics.median(rates["healthz"])
    names = {
        "healthz": "/healthz",
        "destination": "signed deliveries, one destination (forwarder off)",
        "none": "signed deliveries, no destination",
        "forwarder": "signed deliveries, one destination + a forwarder sending",
    }
    print(
        f"\n\n2. The receiver (gunicorn --workers 2 --threads 4, DEBUG=false; wrk -t2 -c8, "
        f"{ROUNDS} × {SECONDS} s each, interleaved, medians, {len(SPREAD)} instances; CPU per "
        "request of gunicorn + PostgreSQL + wrk):"
    )
    for variant in variants:
        rps = statistics.median(rates[variant])
        rounds = " / ".join(f"{r:.0f}" for r in rates[variant])
        app, database, client = (statistics.median(c) for c in zip(*costs[variant], strict=True))
        print(
            f"  {names[variant]:58} {rps:6.0f}/s  ratio {rps / health_rps:.2f}  "
            f"CPU {app:.2f} + {database:.2f} + {client:.2f} ms  (rounds: {rounds})"
        )
        if variant == "healthz":
            continue
        summary.append(
            (
                f"2. {names[variant]}",
                f"{rps:,.0f}/s vs /healthz {health_rps:,.0f}/s: ratio {rps / health_rps:.2f}"
                + (" (goal ≥ 0.5)" if variant == "destination" else ""),
            )
        )
