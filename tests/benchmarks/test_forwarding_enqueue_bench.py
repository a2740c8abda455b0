"""Benchmark (`make bench`): what queueing costs the receiver's store: ms per
`store_delivery` in-process with 0, 1 and 5 matching destinations (and 5 with every kind of
filter), and its round trips (one).

Printed; asserted: one round trip each, and a delivery per stored event and destination.
"""

from __future__ import annotations

import statistics
import time

import pytest

from instances.events.models import EventNotification
from instances.forwarding.models import Destination
from tests.benchmarks.forwarding import (
    Storer,
    drop_destinations,
    make_destination,
    percentile,
    scalar,
    seed,
)
from tests.benchmarks.seeding import TAGS, require_postgresql
from tests.roundtrips import counting_round_trips

require_postgresql()

# Committed, as the receiver's statements are.
pytestmark = pytest.mark.django_db(transaction=True)

INSTANCES = 300
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


def test_the_enqueue_cost_per_delivery(summary):
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
            assert scalar("SELECT count(*) FROM forwarding_queued")[0] == matching * stored
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
        summary.append(
            (
                f"3. store, {name}",
                f"p50 {p50:.3f} ms ({p50 - zero:+.3f} ms), mean {statistics.mean(ms):.3f} ms, "
                f"{max(trips[name])} round trip",
            )
        )
