"""Benchmark (`make bench`): forwarding received events to a destination, on PostgreSQL.

Printed, asserted only for sanity (every delivery delivered once, the counts right):

1. The forwarder (`manage.py forward`, real processes) draining 10,000 deliveries that the
   receiver's own statement queued (`ingest.store_delivery`), to a fast local listener (a
   process of its own, `forwarding_listener.py`, verifying a sample of the signatures):
   deliveries/s, the forwarder's and PostgreSQL's CPU, the attempts; then the latency from
   an event's `received_at` to the listener's receipt while events arrive at a steady pace.
2. The receiver under load (wrk against gunicorn, as `load.py` runs it) with one destination,
   with none, and with one and a forwarder sending meanwhile, against /healthz in the same run.
3. What queueing costs the receiver's store: ms per `store_delivery` in-process with 0, 1 and
   5 matching destinations (and 5 with every kind of filter), and its round trips (one).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import datetime
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from instances.events import ingest
from instances.events.models import EventNotification
from instances.forwarding.models import Destination, new_signing_secret
from tests.benchmarks.load import (
    SPREAD,
    free_port,
    instance_uuid,
    process_env,
    run_wrk,
    start_gunicorn,
    wrk_script,
)
from tests.benchmarks.seeding import BODY, TAGS, execute, require_postgresql, seed_instances
from tests.roundtrips import counting_round_trips

require_postgresql()

# The forwarder and gunicorn read what this test writes: it must be committed.
pytestmark = pytest.mark.django_db(transaction=True)

ROOT = Path(settings.BASE_DIR)
LISTENER = Path(__file__).with_name("forwarding_listener.py")
# One secret for every destination of the run, so that the listener verifies them all.
SECRET = new_signing_secret()
EVENTS = 10_000
INSTANCES = 300
# The load run's SPREAD names instances 2..1001.
LOAD_INSTANCES = 1_001
SUMMARY: list[tuple[str, str]] = []


@pytest.fixture(scope="module", autouse=True)
def summary():
    yield
    if not SUMMARY:
        return
    width = max(len(name) for name, _ in SUMMARY)
    print(f"\n\nForwarding bench, summary (load average now {os.getloadavg()[0]:.1f}):")
    for name, value in SUMMARY:
        print(f"  {name:<{width}}  {value}")


# -- data -------------------------------------------------------------------------------------


def seed(instances: int) -> list[int]:
    """Instances 1..`instances` with webhook settings and tags (as the page bench seeds them);
    returns those not deleted, which the receiver would store for."""
    execute(
        "INSERT INTO instances_tag (id, name) SELECT t, 'team-' || t FROM generate_series(1, %s) t",
        [TAGS],
    )
    seed_instances(1, instances)
    execute("ANALYZE")
    ingest.forget_receivers()
    return [pk for pk in range(1, instances + 1) if pk % 97 != 13]


def fields_for(serial: int) -> dict:
    """A delivery's fields as the receiver makes them from a CREATED notification."""
    body = BODY.replace('"bench"', f'"fwd-{serial}"')
    events = json.loads(body)["message"]["events"]
    return {
        "dedup_key": f"event:fwd-{serial}",
        "remote_event_id": f"fwd-{serial}",
        "webhook_id": "",
        "signature": EventNotification.Signature.VERIFIED,
        "event_type": "CREATED",
        "object_type": "file",
        "object_id": "/a.txt",
        "events": events,
        "body": body,
    }


class Storer:
    """Stores events as the receiver does: `store_delivery` with the instance as read (the
    `read` tuple the statement re-checks), to the instances in turn."""

    def __init__(self, instances: list[int]) -> None:
        self.instances = instances
        self.reads = {
            pk: ingest.find_receiving_instance(instance_uuid(pk)).read for pk in instances
        }
        self.serial = 0

    def store(self) -> int:
        self.serial += 1
        pk = self.instances[self.serial % len(self.instances)]
        stored = ingest.store_delivery(
            instance_id=pk, fields=fields_for(self.serial), read=self.reads[pk]
        )
        assert isinstance(stored, int), stored
        return stored


def make_destination(*, max_in_flight: int | None = None, url: str = "http://127.0.0.1:9/"):
    fields = {"max_in_flight": max_in_flight} if max_in_flight else {}
    return Destination.objects.create(name="Our app", url=url, signing_secret=SECRET, **fields)


def drop_destinations() -> None:
    """Every destination, delivery and attempt gone (raw SQL: the ORM's cascade would read
    every delivery first)."""
    for table in (
        "forwarding_attempt",
        "forwarding_delivery",
        "forwarding_destination_instances",
        "forwarding_destination",
    ):
        execute(f"DELETE FROM {table}")


def scalar(sql: str, params=None):
    with connection.cursor() as cursor:
        cursor.execute(sql, params or [])
        return cursor.fetchone()


# -- processes --------------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process (all its threads) so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def postgres_cpu() -> float:
    """CPU of every PostgreSQL process alive now (backends that exit meanwhile are lost, so
    read it before stopping the clients)."""
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError, ValueError):
            text = stat.read_text()
            if text.split("(", 1)[1].startswith("postgres)"):
                fields = text.rsplit(")", 1)[1].split()
                total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


class ListenerProcess:
    def __init__(self) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [sys.executable, str(LISTENER), str(self.port)],
            env={**os.environ, "BENCH_LISTENER_SECRET": SECRET},
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout.readline().strip() == "listening"

    def url(self) -> str:
        return f"{self.base}/hooks/app?token=s3cret"

    def get(self, path: str):
        with urllib.request.urlopen(self.base + path, timeout=30) as answer:
            return json.loads(answer.read()) if path == "/stats" else None

    def close(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


@pytest.fixture
def listener():
    found = ListenerProcess()
    yield found
    found.close()


class Forwarders:
    """`manage.py forward` processes, their output in a file."""

    def __init__(self, count: int, concurrency: int) -> None:
        self.log = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115 (closed in stop)
        env = process_env(FORWARDING_POLL_SECONDS="0.5")
        self.processes = [
            subprocess.Popen(
                [sys.executable, "manage.py", "forward", "--concurrency", str(concurrency)],
                cwd=ROOT,
                env=env,
                stdout=self.log,
                stderr=subprocess.STDOUT,
            )
            for _ in range(count)
        ]

    def alive(self) -> bool:
        return all(p.poll() is None for p in self.processes)

    def cpu(self) -> float:
        return sum(cpu_seconds(p.pid) for p in self.processes)

    def stop(self) -> str:
        for p in self.processes:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in self.processes:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        self.log.seek(0)
        output = self.log.read()
        self.log.close()
        return output


def delivery_states(destination_id: int) -> dict[str, int]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT state, count(*) FROM forwarding_delivery WHERE destination_id = %s "
            "GROUP BY state",
            [destination_id],
        )
        return dict(cursor.fetchall())


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def latencies(arrivals: list) -> list[float]:
    """Seconds from each event's received_at to its receipt by the listener."""
    return [at - datetime.fromisoformat(received).timestamp() for at, _, received, _ in arrivals]


def check_listener(stats: dict, expected_ids: set[int]) -> None:
    arrivals = stats["arrivals"]
    got = [event_id for _, event_id, _, _ in arrivals]
    assert stats["unreadable"] == 0
    assert len(got) == len(expected_ids), f"{len(got)} requests for {len(expected_ids)} events"
    assert set(got) == expected_ids
    assert stats["verified"] >= len(arrivals) // 100 and stats["failed_count"] == 0, stats["failed"]


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
        assert delivery_states(self.destination.pk) == {"pending": EVENTS}
        self.fresh = True

    def requeue(self) -> None:
        execute("DELETE FROM forwarding_attempt")
        execute(
            "UPDATE forwarding_delivery SET state = 'pending', attempts = 0, "
            "next_attempt_at = now(), lease_until = NULL, first_attempt_at = NULL, "
            "finished_at = NULL, last_status = NULL, last_error = ''"
        )
        self.fresh = False


def drain(listener, queue: Queue, *, processes: int, concurrency: int, max_in_flight: int):
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
    SUMMARY.append(
        (
            f"1. drain 10,000: {label}",
            f"{rate:,.0f} deliveries/s, forwarder CPU {cpu / window * 100:.0f} %, "
            f"{attempts:,} attempts",
        )
    )
    return rate, cpu / window / processes


def steady_latency(listener, storer, *, pace: float, seconds: float, concurrency: int, limit):
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
    SUMMARY.append(
        (
            f"1. latency at {pace:.0f} events/s",
            f"receipt − received_at p50 {p50:.0f} ms, p95 {p95:.0f} ms",
        )
    )


def test_forwarding_10000_events_to_a_local_listener(listener):
    storer = Storer(seed(INSTANCES))
    print(
        f"\n\n1. Forwarding {EVENTS:,} events ({len(storer.instances)} instances, one "
        "destination matching all) to a local listener process, DEBUG=false; load average "
        f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs:"
    )
    default = settings.FORWARDING_CONCURRENCY
    limit = settings.DESTINATION_MAX_IN_FLIGHT
    queue = Queue(listener, storer)
    best, busy = drain(listener, queue, processes=1, concurrency=default, max_in_flight=limit)
    if default > limit:
        # One destination takes at most `limit` threads: what the others would add.
        rate, busy = drain(listener, queue, processes=1, concurrency=default, max_in_flight=default)
        best = max(best, rate)
    if busy >= 0.8:
        rate, _ = drain(
            listener, queue, processes=2, concurrency=default, max_in_flight=2 * default
        )
        best = max(best, rate)
    else:
        print(f"\n  (one forwarder used {busy * 100:.0f} % of a core: 2 processes not tried)")
    pace = min(200.0, round(best / 2, -1))
    steady_latency(listener, storer, pace=pace, seconds=10, concurrency=default, limit=default)


# -- 2. the receiver --------------------------------------------------------------------------

ROUNDS, SECONDS = 3, 6
# After a wrk run: the requests it left in flight are answered (and stored) by then.
SETTLE = 0.5


def test_the_receiver_with_forwarding_on(listener):
    seed(LOAD_INSTANCES)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    serial = iter(range(2_000_000, 10_000_000, 50_000))
    health: list[float] = []
    rates: dict[str, list[float]] = {"none": [], "destination": [], "forwarder": []}
    process = start_gunicorn(port)
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
                health.append(run_wrk(f"{base}/healthz", SECONDS))
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
                        rates[variant].append(run_wrk(base + "/", SECONDS, lua))
                    finally:
                        if forwarders:
                            output = forwarders.stop()
                            assert "Traceback" not in output, output[-5000:]
                    time.sleep(SETTLE)
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
    health_rps = statistics.mean(health)
    names = {
        "destination": "signed deliveries, one destination (forwarder off)",
        "none": "signed deliveries, no destination",
        "forwarder": "signed deliveries, one destination + a forwarder sending",
    }
    print(
        f"\n\n2. The receiver (gunicorn --workers 2 --threads 4, DEBUG=false; wrk -t2 -c8, "
        f"{ROUNDS} × {SECONDS} s each, interleaved, {len(SPREAD)} instances):"
        f"\n  {'/healthz':58} {health_rps:8.0f} requests/s"
        f"              (rounds: {' / '.join(f'{r:.0f}' for r in health)})"
    )
    for variant in ("destination", "none", "forwarder"):
        rps = statistics.mean(rates[variant])
        rounds = " / ".join(f"{r:.0f}" for r in rates[variant])
        print(
            f"  {names[variant]:58} {rps:8.0f} requests/s  ratio {rps / health_rps:.2f}"
            f"  (rounds: {rounds})"
        )
        SUMMARY.append(
            (
                f"2. {names[variant]}",
                f"{rps:,.0f}/s vs /healthz {health_rps:,.0f}/s: ratio {rps / health_rps:.2f}"
                + (" (goal ≥ 0.5)" if variant == "destination" else ""),
            )
        )


# -- 3. the enqueue cost ----------------------------------------------------------------------

STORES, PARTS = 3_000, 3


def filtered_destinations(instances: list[int]) -> None:
    """Five destinations that all match, each through other filters."""
    tags = [f"team-{t}" for t in range(1, TAGS + 1)]
    nowhere = "http://127.0.0.1:9/"
    made = [
        Destination.objects.create(name="keys", url=nowhere, element_keys=["dropbox"]),
        Destination.objects.create(name="types", url=nowhere, event_types=["CREATED"]),
        Destination.objects.create(name="tags", url=nowhere, tags=tags),
        Destination.objects.create(name="instances", url=nowhere),
        Destination.objects.create(
            name="all",
            url=nowhere,
            element_keys=["dropbox"],
            event_types=["CREATED", "UPDATED"],
            tags=tags,
        ),
    ]
    for destination in made[3:]:
        destination.instances.set(instances)


def test_the_enqueue_cost_per_delivery():
    storer = Storer(seed(INSTANCES))
    setups = {
        "0 destinations": (0, lambda: None),
        "1 destination": (1, lambda: make_destination()),
        "5 destinations": (5, lambda: [make_destination() for _ in range(5)]),
        "5 destinations, filtered": (5, lambda: filtered_destinations(storer.instances)),
    }
    for _ in range(50):  # the statement prepared, the plan settled
        storer.store()
    times: dict[str, list[float]] = {name: [] for name in setups}
    trips: dict[str, list[int]] = {name: [] for name in setups}
    for _ in range(PARTS):  # interleaved
        for name, (matching, setup) in setups.items():
            drop_destinations()
            setup()
            before = EventNotification.objects.count()
            for _ in range(STORES // PARTS):
                started = time.perf_counter()
                storer.store()
                times[name].append(time.perf_counter() - started)
            for _ in range(3):
                with counting_round_trips() as counted:
                    storer.store()
                # Django logs a statement that psycopg ran prepared with no text (None).
                counted.statements = [sql or "(prepared)" for sql in counted.statements]
                trips[name].append(counted.total)
            stored = EventNotification.objects.count() - before
            assert scalar("SELECT count(*) FROM forwarding_delivery")[0] == matching * stored
    print(
        f"\n\n3. The receiver's store in-process (`ingest.store_delivery`, {STORES:,} each, "
        f"{PARTS} parts interleaved, prepared statement):"
        f"\n  {'':26} {'mean ms':>8} {'p50 ms':>7} {'p95 ms':>7}  round trips"
    )
    zero = percentile(times["0 destinations"], 0.5) * 1000
    for name, values in times.items():
        ms = [v * 1000 for v in values]
        p50 = percentile(ms, 0.5)
        assert set(trips[name]) == {1}, (name, trips[name])
        print(
            f"  {name:26} {statistics.mean(ms):8.3f} {p50:7.3f} "
            f"{percentile(ms, 0.95):7.3f}  {max(trips[name])}"
        )
        SUMMARY.append(
            (
                f"3. store, {name}",
                f"p50 {p50:.3f} ms ({p50 - zero:+.3f} ms), mean {statistics.mean(ms):.3f} ms, "
                f"{max(trips[name])} round trip",
            )
        )
