"""Benchmark (`make bench`): the forwarding pages, small data → large data, on PostgreSQL.

Seeds (with SQL, INSERT … SELECT generate_series, and the page benchmarks' helpers for the
instances and events, tests/benchmarks/seeding.py) a small data set — 1,000 instances, 10,000
events, each forwarded to one destination: 10,000 deliveries — and a large one — 100,000
instances, 1,000,000 events: 1,000,000 deliveries (times BENCH_SCALE) — each in a schema of
its own. The deliveries' states are spread over the events (by id): 74 % delivered, 12 %
pending (half of them waiting for a retry), 12 % failed, 2 % refused. Every delivery that was
tried has one attempt (the last one only: a failed delivery's 8 attempts are one row), 94 % of
the deliveries. A second destination (DELETED events only, made after them) has no delivery.

Then requests, small and large alternating, with the in-process test client (a superuser's
session for the pages and the admin, a Bearer token for the API): /forwarding/, the
destination's page (first page, ?state=failed, ?state=pending, the oldest page), an event's
page with its delivery and attempt, the hot instance's page (its events' "Forwarded" column),
the admin's delivery list (first page, by state, by destination and state), GET
/api/v1/destinations and GET /api/v1/instances/{uuid}/events. Prints per request: queries
small → large, median time small → large, ratio, and the rows the page shows.

Asserted: every request answers 200, costs as many queries on the large data set as on the
small one and shows as many rows. Time is printed, never asserted on.

The seeded tables are VACUUM ANALYZEd once seeded, as autovacuum keeps a live database: the
counts' index-only scans then skip the heap, as they would in production, and autovacuum
does not start in the middle of the measurements.
"""

from __future__ import annotations

import statistics
import time

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from instances.api import tokens
from instances.forwarding.models import Delivery, Destination
from instances.models import ElementInstance
from tests.benchmarks.pages import ROUNDS
from tests.benchmarks.seeding import (
    HOT,
    LARGE,
    SCALE,
    SMALL,
    execute,
    require_postgresql,
    use,
)
from tests.benchmarks.seeding import (
    seed as seed_base,
)

require_postgresql()

pytestmark = pytest.mark.django_db(transaction=True)

SCHEMAS = {"fwd_bench_small": SMALL, "fwd_bench_large": LARGE}
FORWARDING_TABLES = (
    "forwarding_destination",
    "forwarding_destination_instances",
    "forwarding_delivery",
    "forwarding_attempt",
)
ADMIN_DELIVERIES = "/admin/forwarding/delivery/"
# A delivery's state from its event's id: per 100 events, 12 failed, 2 refused, 12 pending
# (6 of them waiting for a retry), 74 delivered. The admin counts a filtered list exactly below
# 1,000 rows (one query more) and estimates it above: the small data set's 1,200 failed and
# 1,200 pending make its filtered lists cost the same queries as the large one's.
STATE = """CASE WHEN e.id %% 100 < 12 THEN 'failed' WHEN e.id %% 100 < 14 THEN 'refused'
               WHEN e.id %% 100 < 26 THEN 'pending' ELSE 'delivered' END"""


def seed(schema: str, size: dict) -> float:
    """The page benchmarks' instances and events, then the destinations, a delivery of every
    event to the first one and an attempt of every delivery tried."""
    started = time.perf_counter()
    seed_base(schema, size, FORWARDING_TABLES)
    app = Destination.objects.create(name="Bench app", url="https://app.example/hooks")
    # Made after the events arrived: no delivery.
    Destination.objects.create(
        name="Deletions", url="https://audit.example/hooks", event_types=["DELETED"]
    )
    execute(
        f"""
        INSERT INTO forwarding_delivery (
            event_id, destination_id, state, attempts, next_attempt_at, lease_until,
            first_attempt_at, last_status, last_error, created_at, finished_at)
        SELECT e.id, %s, s.state,
               CASE s.state WHEN 'failed' THEN 8 WHEN 'pending' THEN e.id %% 2 ELSE 1 END,
               CASE WHEN s.state = 'pending' THEN now() + interval '10 minutes' END, NULL,
               CASE WHEN s.state <> 'pending' OR e.id %% 2 = 1
                    THEN e.received_at + interval '1 second' END,
               CASE s.state WHEN 'delivered' THEN 200 WHEN 'refused' THEN 410
                            WHEN 'failed' THEN 503 ELSE CASE WHEN e.id %% 2 = 1 THEN 502 END END,
               CASE WHEN s.state IN ('failed', 'pending') AND e.id %% 2 = 1
                    THEN 'HTTP 503 from app.example' ELSE '' END,
               e.received_at,
               CASE WHEN s.state <> 'pending' THEN e.received_at + interval '2 seconds' END
        FROM instances_eventnotification e, LATERAL (SELECT {STATE} AS state) s
        """,
        [app.pk],
    )
    execute(
        """
        INSERT INTO forwarding_attempt (
            delivery_id, number, started_at, duration_ms, status, outcome, error, response,
            next_attempt_at)
        SELECT id, attempts, coalesce(finished_at, first_attempt_at), 40 + id %% 200,
               last_status,
               CASE state WHEN 'delivered' THEN 'delivered' WHEN 'refused' THEN 'refused'
                          WHEN 'failed' THEN 'gave_up' ELSE 'retry' END,
               last_error, CASE WHEN state = 'delivered' THEN '{"ok": true}' ELSE '' END,
               CASE WHEN state = 'pending' THEN next_attempt_at END
        FROM forwarding_delivery WHERE attempts > 0
        """
    )
    for table in ("instances_eventnotification", *FORWARDING_TABLES):
        execute(f"VACUUM ANALYZE {schema}.{table}")
    return time.perf_counter() - started


def requests_to_measure() -> dict[str, tuple[str, str]]:
    """Each request (client, URL) on the data set in use."""
    app = Destination.objects.get(name="Bench app")
    hot = ElementInstance.objects.get(pk=HOT)
    # The hot instance's newest event that was sent (a delivery and an attempt to show).
    event = (
        Delivery.objects.filter(event__instance=hot, attempts__gt=0)
        .order_by("-created_at", "-id")
        .select_related("event__instance")
        .first()
        .event
    )
    detail = app.get_absolute_url()
    return {
        "/forwarding/": ("page", "/forwarding/"),
        "destination, first page": ("page", detail),
        "destination ?state=failed": ("page", f"{detail}?state=failed"),
        "destination ?state=pending": ("page", f"{detail}?state=pending"),
        "destination, oldest page": ("page", f"{detail}?oldest=1"),
        "event page (delivery + attempt)": ("page", event.get_absolute_url()),
        "instance page (hot, Forwarded column)": ("page", hot.get_absolute_url()),
        "admin deliveries, first page": ("page", ADMIN_DELIVERIES),
        "admin deliveries ?state=failed": ("page", f"{ADMIN_DELIVERIES}?state__exact=failed"),
        "admin deliveries ?state=pending": ("page", f"{ADMIN_DELIVERIES}?state__exact=pending"),
        "admin deliveries, destination+failed": (
            "page",
            f"{ADMIN_DELIVERIES}?destination__id__exact={app.pk}&state__exact=failed",
        ),
        "API GET /destinations": ("api", "/api/v1/destinations"),
        "API GET /instances/{hot}/events": ("api", f"/api/v1/instances/{hot.uuid}/events"),
    }


def rows_shown(response) -> int | None:
    """How many rows the page shows: deliveries, events, admin rows, API items."""
    if response.get("Content-Type", "").startswith("application/json"):
        return len(response.json()["items"])
    context = response.context
    for key in ("deliveries", "events"):
        if key in context:
            return len(context[key])
    if "cl" in context:
        return len(context["cl"].result_list)
    if "destinations" in context:
        return len(context["destinations"])
    return None


def timed(client: Client, url: str) -> float:
    started = time.perf_counter()
    response = client.get(url)
    elapsed = (time.perf_counter() - started) * 1000
    assert response.status_code == 200, f"{url}: {response.status_code}"
    return elapsed


def measured(client: Client, url: str) -> tuple[int, int | None]:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200, f"{url}: {response.status_code}"
    return len(queries), rows_shown(response)


def test_forwarding_pages_small_to_large(client, django_user_model, settings):
    settings.API_RATE_LIMIT_PER_MINUTE = 1_000_000
    operator = django_user_model.objects.create_superuser("bench-fwd", "f@example.com", "x")
    client.force_login(operator)
    secret = tokens.make(user=operator, name="bench", scopes=["read"], expires_at=None).secret
    clients = {"page": client, "api": Client(headers={"Authorization": f"Bearer {secret}"})}

    seconds = {}
    try:
        for schema, size in SCHEMAS.items():
            seconds[schema] = seed(schema, size)
        urls = {}
        for schema in SCHEMAS:
            use(schema)
            urls[schema] = requests_to_measure()

        results = {}
        for name in urls["fwd_bench_small"]:
            samples: dict[str, list[float]] = {schema: [] for schema in SCHEMAS}
            counts, rows = {}, {}
            for schema in SCHEMAS:
                use(schema)
                kind, url = urls[schema][name]
                timed(clients[kind], url)  # warm caches
                counts[schema], rows[schema] = measured(clients[kind], url)
            for _ in range(ROUNDS):
                for schema in SCHEMAS:
                    use(schema)
                    kind, url = urls[schema][name]
                    samples[schema].append(timed(clients[kind], url))
            results[name] = {
                "queries": tuple(counts.values()),
                "ms": tuple(statistics.median(samples[s]) for s in SCHEMAS),
                "rows": tuple(rows.values()),
            }
    finally:
        # The test database is flushed (then dropped) through `public`.
        execute("SET search_path TO public")
        for schema in SCHEMAS:
            execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")

    small, large = SCHEMAS.values()
    print(
        f"\n\nForwarding pages: small {small['instances']:,} instances, {small['events']:,} "
        f"events and deliveries to one destination; large {large['instances']:,} instances, "
        f"{large['events']:,} events and deliveries (BENCH_SCALE={SCALE}); one attempt per "
        "delivery tried."
        f"\nSeeded with SQL: small in {seconds['fwd_bench_small']:.1f} s, large in "
        f"{seconds['fwd_bench_large']:.1f} s. PostgreSQL, in-process Django test client, median "
        f"of {ROUNDS} rounds, small and large alternating."
    )
    print(f"\n{'page':40} {'queries':>12} {'median ms small → large':>26} {'ratio':>7} rows")
    for name, result in results.items():
        (q_small, q_large), (t_small, t_large) = result["queries"], result["ms"]
        shown = "/".join("-" if n is None else str(n) for n in result["rows"])
        print(
            f"{name:40} {q_small:>5} → {q_large:<5} {t_small:>11.1f} → {t_large:<11.1f} "
            f"{t_large / t_small:>6.2f} {shown}"
        )

    for name, result in results.items():
        q_small, q_large = result["queries"]
        assert q_small == q_large, f"{name}: {q_small} queries small, {q_large} large"
        rows_small, rows_large = result["rows"]
        assert rows_small == rows_large, f"{name}: {rows_small} rows small, {rows_large} large"
