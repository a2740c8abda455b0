"""Benchmark (`make bench`): the forwarder (`manage.py forward`, real processes) draining
10,000 deliveries that the receiver's own statement queued (`ingest.store_delivery`), to a
fast local listener (a process of its own, `forwarding_listener.py`, verifying a sample of the
signatures): deliveries/s, the forwarder's and PostgreSQL's CPU, the attempts; then the latency
from an event's `received_at` to the listener's receipt while events arrive at a steady pace.

Printed, asserted only for sanity (every delivery delivered once, the counts right).
"""

from __future__ import annotations

import os
import time

import pytest
from django.conf import settings

from instances.forwarding.models import Destination
from tests.benchmarks.forwarding import (
    Forwarders,
    Storer,
    check_listener,
    delivery_states,
    drop_destinations,
    execute,
    latencies,
    make_destination,
    percentile,
    postgres_cpu,
    scalar,
    seed,
)
from tests.benchmarks.seeding import require_postgresql

require_postgresql()

# The forwarder and the listener read what this test writes: it must be committed.
pytestmark = pytest.mark.django_db(transaction=True)

EVENTS = 10_000
INSTANCES = 300


# -- 1. the forwarder -------------------------------------------------------------------------


class Queue:
    """EVENTS events stored as the receiver does, their deliveries to one destination queued by
    the same statement; `requeue` makes them all pending again for the next configuration."""

    def __init__(self, listener, storer) -> None:
        drop_destinations()
        self.destination = make_destination(url=listener.url())
        started = time.perf_counter()
        self.ids = {storer.store() for _ in range(EVENTS)}
        self.store_seconds = time.perf_counter() - started
        # Queued by the receiver's statement: the forwarder makes them deliveries.
        assert scalar("SELECT count(*) FROM forwarding_queued")[0] == EVENTS
        self.fresh = True

    def requeue(self) -> None:
        execute("DELETE FROM forwarding_attempt")
        execute(
            "UPDATE forwarding_delivery SET state = 'pending', attempts = 0, "
            "next_attempt_at = now(), lease_until = NULL, first_attempt_at = NULL, "
            "finished_at = NULL, last_status = NULL, last_error = ''"
        )
        self.fresh = False


def drain(listener, queue: Queue, summary, *, processes: int, concurrency: int, max_in_flight: int):
    """Time `processes` forwarders sending every delivery of `queue` to the listener."""
    destination = queue.destination
    if not queue.fresh:
        queue.requeue()
    Destination.objects.filter(pk=destination.pk).update(max_in_flight=max_in_flight)
    execute("VACUUM ANALYZE forwarding_delivery")
    execute("VACUUM ANALYZE forwarding_attempt")
    listener.get("/reset")

    forwarders = Forwarders(processes, concurrency)
    launched = time.time()
    first_seen = None
    cpu_start = pg_start = 0.0
    deadline = time.monotonic() + 240
    try:
        while True:
            states = delivery_states(destination.pk)
            done = states.get("delivered", 0)
            if done and first_seen is None:
                first_seen = time.time()
                cpu_start, pg_start = forwarders.cpu(), postgres_cpu()
            if done == EVENTS:
                break
            assert forwarders.alive(), "a forwarder exited"
            assert time.monotonic() < deadline, f"not all delivered in 240 s: {states}"
            time.sleep(0.1)
        finished = time.time()
        cpu, pg = forwarders.cpu() - cpu_start, postgres_cpu() - pg_start
    finally:
        output = forwarders.stop()
    assert "Traceback" not in output, output[-5000:]
    stats = listener.get("/stats")
    check_listener(stats, queue.ids)
    attempts, tries, outcomes = scalar(
        "SELECT count(*), (SELECT sum(attempts) FROM forwarding_delivery WHERE destination_id = "
        "%s), count(*) FILTER (WHERE a.outcome = 'delivered') FROM forwarding_attempt a "
        "JOIN forwarding_delivery d ON d.id = a.delivery_id WHERE d.destination_id = %s",
        [destination.pk, destination.pk],
    )
    assert attempts == tries == outcomes == EVENTS, (attempts, tries, outcomes)

    arrivals = sorted(stats["arrivals"])
    span = arrivals[-1][0] - arrivals[0][0]
    window = finished - first_seen
    label = f"{processes} × --concurrency {concurrency}, max_in_flight {max_in_flight}"
    rate = EVENTS / span
    if queue.fresh:
        waited = latencies(arrivals)
        origin = (
            f"\n    queued by the receiver's statement: {EVENTS:,} stores in "
            f"{queue.store_seconds:.1f} s = {queue.store_seconds / EVENTS * 1000:.2f} ms each"
            f"\n    receipt − received_at (a backlog: mostly the wait in the queue): p50 "
            f"{percentile(waited, 0.5):.1f} s, p95 {percentile(waited, 0.95):.1f} s"
        )
    else:
        origin = "\n    the same deliveries made pending again (attempts deleted)"
    print(
        f"\n  {label}:{origin}"
        f"\n    start → all delivered: {finished - launched:.1f} s (with the forwarders' "
        f"start-up); first → last receipt: {span:.1f} s = {rate:,.0f} deliveries/s"
        f"\n    attempts {attempts:,} (all delivered), listener got {len(arrivals):,} requests, "
        f"{stats['verified']} signatures verified (1 in 50)"
        f"\n    CPU while sending: forwarder(s) {cpu / window * 100:.0f} % of a core, "
        f"PostgreSQL {pg / window * 100:.0f} % ({cpu / EVENTS * 1000:.2f} + "
        f"{pg / EVENTS * 1000:.2f} ms per delivery)"
    )
    queue.fresh = False
    summary.append(
        (
            f"1. drain 10,000: {label}",
            f"{rate:,.0f} deliveries/s, forwarder CPU {cpu / window * 100:.0f} %, "
            f"{attempts:,} attempts",
        )
    )
    return rate, cpu / window / processes


def steady_latency(
    listener, storer, summary, *, pace: float, seconds: float, concurrency: int, limit
):
    """Events stored at `pace` a second while a forwarder runs: receipt − received_at."""
    drop_destinations()
    destination = make_destination(max_in_flight=limit, url=listener.url())
    listener.get("/reset")
    forwarders = Forwarders(1, concurrency)
    count = round(pace * seconds)
    ids = set()
    try:
        time.sleep(3)  # its start-up
        started = time.perf_counter()
        for n in range(count):
            ids.add(storer.store())
            ahead = started + (n + 1) / pace - time.perf_counter()
            if ahead > 0:
                time.sleep(ahead)
        stored_in = time.perf_counter() - started
        deadline = time.monotonic() + 60
        while delivery_states(destination.pk).get("delivered", 0) < count:
            assert forwarders.alive() and time.monotonic() < deadline
            time.sleep(0.1)
    finally:
        output = forwarders.stop()
    assert "Traceback" not in output, output[-5000:]
    stats = listener.get("/stats")
    check_listener(stats, ids)
    waited = [s * 1000 for s in latencies(stats["arrivals"])]
    p50, p95, worst = percentile(waited, 0.5), percentile(waited, 0.95), max(waited)
    print(
        f"\n  steady: {count:,} events stored at {count / stored_in:,.0f}/s (1 × --concurrency "
        f"{concurrency}, max_in_flight {destination.max_in_flight}, poll 0.5 s):"
        f"\n    receipt − received_at: p50 {p50:.0f} ms, p95 {p95:.0f} ms, max {worst:.0f} ms"
    )
    summary.append(
        (
            f"1. latency at {pace:.0f} events/s",
            f"receipt − received_at p50 {p50:.0f} ms, p95 {p95:.0f} ms",
        )
    )


def test_forwarding_10000_events_to_a_local_listener(listener, summary):
    storer = Storer(seed(INSTANCES))
    print(
        f"\n\n1. Forwarding {EVENTS:,} events ({len(storer.instances)} instances, one "
        "destination matching all) to a local listener process, DEBUG=false; load average "
        f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs:"
    )
    default = settings.FORWARDING_CONCURRENCY
    limit = settings.DESTINATION_MAX_IN_FLIGHT
    queue = Queue(listener, storer)
    best, busy = drain(
        listener, queue, summary, processes=1, concurrency=default, max_in_flight=limit
    )
    if default > limit:
        # One destination takes at most `limit` threads: what the others would add.
        rate, busy = drain(
            listener, queue, summary, processes=1, concurrency=default, max_in_flight=default
        )
        best = max(best, rate)
    if busy >= 0.8:
        rate, _ = drain(
            listener, queue, summary, processes=2, concurrency=default, max_in_flight=2 * default
        )
        best = max(best, rate)
    else:
        print(f"\n  (one forwarder used {busy * 100:.0f} % of a core: 2 processes not tried)")
    pace = min(200.0, round(best / 2, -1))
    steady_latency(
        listener, storer, summary, pace=pace, seconds=10, concurrency=default, limit=default
    )
