"""`make bench`: every page and the receiver, small data → large data, on PostgreSQL. Printed,
never asserted on time.

Seeds (with SQL, INSERT … SELECT generate_series) a small data set — 1,000 instances, 10,000
events, the "hot" instance with 100 — and a large one — 100,000 instances, 1,000,000 events,
the hot instance with 100,000 — each in a schema of its own, then measures every page on
both, alternating, and prints per page: queries small → large, median time small → large,
ratio. Then a load run (wrk against gunicorn, 2
workers, DEBUG=false, on loopback): requests/s of signed deliveries vs /healthz in the same
run, the receiver's round trips, and the workers' memory across 20,000 deliveries.
"""

from __future__ import annotations

import time

import pytest
from django.db import connection

from instances.events.purge import purge_events
from tests.benchmarks.load import load_run, receiver_round_trips
from tests.benchmarks.pages import ROUNDS, measure_interleaved
from tests.benchmarks.seeding import (
    LARGE,
    SCALE,
    SMALL,
    execute,
    require_postgresql,
    seed,
    use,
)

require_postgresql()

pytestmark = pytest.mark.django_db(transaction=True)


def test_every_page_and_the_receiver_small_to_large(client, django_user_model):
    operator = django_user_model.objects.create_superuser("bench", "bench@example.com", "x")
    client.force_login(operator)

    small_seconds = seed("bench_small", SMALL)
    large_seconds = seed("bench_large", LARGE)
    results = measure_interleaved(client)

    print(
        f"\n\nSmall: {SMALL['instances']:,} instances, {SMALL['events']:,} events; large: "
        f"{LARGE['instances']:,} instances, {LARGE['events']:,} events (BENCH_SCALE={SCALE})."
        f"\nSeeded with SQL: small in {small_seconds:.1f} s, large in {large_seconds:.1f} s. "
        f"PostgreSQL, in-process Django test client, median of {ROUNDS} rounds, small and "
        "large alternating."
    )
    print(f"\n{'page':40} {'queries':>12} {'median ms small → large':>26} {'ratio':>7}")
    for name, result in results.items():
        (q_small, q_large), (t_small, t_large) = result["queries"], result["ms"]
        print(
            f"{name:40} {q_small:>5} → {q_large:<5} {t_small:>11.1f} → {t_large:<11.1f} "
            f"{t_large / t_small:>6.2f}"
        )
    use("bench_large")
    first, next_one, again = receiver_round_trips()
    print(
        f"\nReceiver: database round trips for a first delivery to an instance {first}, for "
        f"the next one {next_one}, for a redelivery {again} (statements + BEGIN/COMMIT, "
        "counted in-process, large data set)."
    )
    # gunicorn's connections open on the large data set.
    database = connection.settings_dict["NAME"]
    execute(f"ALTER DATABASE {database} SET search_path = bench_large, public")
    try:
        load_run()
        purge_run()
    finally:
        # The test database is flushed (then dropped) through `public`.
        execute(f"ALTER DATABASE {database} RESET search_path")
        execute("DROP SCHEMA bench_small CASCADE")
        execute("DROP SCHEMA bench_large CASCADE")
        execute("SET search_path TO public")


# The seed spreads plain events over 60 days: a retention of 59 days purges about a sixtieth.
PURGE_DAYS = 59


def purge_run() -> None:
    """`purge_events` on each data set: events deleted per second, batches of 1,000."""
    print(f"\nPurge (events older than {PURGE_DAYS} days, batches of 1,000, each its own commit):")
    for schema in ("bench_small", "bench_large"):
        use(schema)
        started = time.perf_counter()
        events, day_rows = purge_events(days=PURGE_DAYS)
        seconds = time.perf_counter() - started
        rate = events / seconds if seconds else 0
        print(
            f"  {schema:12} {events:>9,} events and {day_rows:,} daily counts in {seconds:.1f} s "
            f"= {rate:,.0f} events/s"
        )
