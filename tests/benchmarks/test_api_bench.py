"""Benchmark (`make bench`): the API's lists, small data → large data, on PostgreSQL.

Seeds (with the page benchmarks' SQL, tests/benchmarks/seeding.py) a small data set — 30,000
instances, 10,000 events, the "hot" instance with 100 — and the large one — 100,000 instances,
1,000,000 events, the hot instance with 100,000 (times BENCH_SCALE) — each in a schema of its
own, then requests, with a Bearer token and the in-process test client, GET /api/v1/instances
(first page, a page deep through a cursor, filtered, searched) and GET
/api/v1/instances/{uuid}/events (first page, an old page through a cursor), small and large
alternating. Prints per request: queries small → large, median time small → large, ratio.

Asserted: every request answers 200 and costs as many queries on the large data set as on the
small one. Time is printed, never asserted on.

The small data set has 30,000 instances, not the page benchmarks' 1,000: the API counts the
matches exactly up to 1,000 (one COUNT query more) and estimates them past it, so every list
measured here matches more than 1,000 instances at both sizes, and its queries compare.
"""

from __future__ import annotations

import statistics
import time

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from instances.api import tokens
from instances.events.models import EventNotification
from instances.lib import keyset
from instances.models import ElementInstance
from tests.benchmarks.pages import ROUNDS
from tests.benchmarks.seeding import (
    HOT,
    LARGE,
    SCALE,
    execute,
    require_postgresql,
    seed,
    use,
)

require_postgresql()

pytestmark = pytest.mark.django_db(transaction=True)

SMALL = {"instances": 30_000, "events": 10_000, "hot_events": 100}
SCHEMAS = {"api_bench_small": SMALL, "api_bench_large": LARGE}
# Instances older than this one are the last ~1,000 of the list: a page that deep.
DEEP_INSTANCE = 1_001
# The event page after the 51st oldest event of the hot instance: its 50 oldest events.
OLD_EVENTS = 51


def requests_to_measure() -> dict[str, str]:
    """Each request's URL on the data set in use (the cursors point into it)."""
    deep = ElementInstance.objects.get(pk=DEEP_INSTANCE)
    hot = ElementInstance.objects.get(pk=HOT)
    old_event = EventNotification.objects.filter(instance=hot).order_by("received_at", "id")[
        OLD_EVENTS - 1
    ]
    events = f"/api/v1/instances/{hot.uuid}/events"
    return {
        "instances, first page": "/api/v1/instances",
        "instances, deep page (cursor)": (
            f"/api/v1/instances?cursor={keyset.cursor(deep, 'created_at')}"
        ),
        "instances ?status=failed&events=on": "/api/v1/instances?status=failed&events=on",
        "instances ?tag=team-3": "/api/v1/instances?tag=team-3",
        "instances ?q=acme": "/api/v1/instances?q=acme",
        "instances ?q=team-3 (a tag)": "/api/v1/instances?q=team-3",
        "instance events (hot), first page": events,
        "instance events (hot), old page (cursor)": (
            f"{events}?cursor={keyset.cursor(old_event, 'received_at')}"
        ),
    }


def timed(client: Client, url: str, refused: list[str]) -> float:
    started = time.perf_counter()
    response = client.get(url)
    elapsed = (time.perf_counter() - started) * 1000
    if response.status_code != 200:
        refused.append(f"{url}: {response.status_code} {response.content[:200]!r}")
    return elapsed


def measured(client: Client, url: str, refused: list[str]) -> tuple[int, dict]:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    if response.status_code != 200:
        refused.append(f"{url}: {response.status_code} {response.content[:200]!r}")
        return len(queries), {}
    return len(queries), response.json()


def test_api_lists_cost_the_same_queries_small_to_large(django_user_model, settings):
    settings.API_RATE_LIMIT_PER_MINUTE = 1_000_000
    operator = django_user_model.objects.create_superuser("bench-api", "b@example.com", "x")
    secret = tokens.make(user=operator, name="bench", scopes=["read"], expires_at=None).secret
    client = Client(headers={"Authorization": f"Bearer {secret}"})

    seconds = {}
    try:
        for schema, size in SCHEMAS.items():
            seconds[schema] = seed(schema, size)
        urls = {}
        for schema in SCHEMAS:
            use(schema)
            urls[schema] = requests_to_measure()

        refused: list[str] = []
        results = {}
        for name in urls["api_bench_small"]:
            samples: dict[str, list[float]] = {schema: [] for schema in SCHEMAS}
            counts, answers = {}, {}
            for schema in SCHEMAS:
                use(schema)
                timed(client, urls[schema][name], refused)  # warm caches (and the token's use)
                counts[schema], answers[schema] = measured(client, urls[schema][name], refused)
            for _ in range(ROUNDS):
                for schema in SCHEMAS:
                    use(schema)
                    samples[schema].append(timed(client, urls[schema][name], refused))
            results[name] = {
                "queries": tuple(counts.values()),
                "ms": tuple(statistics.median(samples[s]) for s in SCHEMAS),
                "answers": tuple(answers.values()),
            }
    finally:
        # The test database is flushed (then dropped) through `public`.
        execute("SET search_path TO public")
        for schema in SCHEMAS:
            execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")

    small, large = SCHEMAS.values()
    print(
        f"\n\nAPI: small {small['instances']:,} instances, {small['events']:,} events (hot "
        f"instance {small['hot_events']:,}); large {large['instances']:,} instances, "
        f"{large['events']:,} events (hot instance {large['hot_events']:,}; BENCH_SCALE={SCALE})."
        f"\nSeeded with SQL: small in {seconds['api_bench_small']:.1f} s, large in "
        f"{seconds['api_bench_large']:.1f} s. PostgreSQL, in-process Django test client with a "
        f"Bearer token, median of {ROUNDS} rounds, small and large alternating."
    )
    print(f"\n{'GET':42} {'queries':>12} {'median ms small → large':>26} {'ratio':>7} items")
    for name, result in results.items():
        (q_small, q_large), (t_small, t_large) = result["queries"], result["ms"]
        items = "/".join(str(len(answer.get("items", []))) for answer in result["answers"])
        matching = [
            f"{a['matching']:,}{'' if a['matching_exact'] else '~'}"
            for a in result["answers"]
            if "matching" in a
        ]
        print(
            f"{name:42} {q_small:>5} → {q_large:<5} {t_small:>11.1f} → {t_large:<11.1f} "
            f"{t_large / t_small:>6.2f} {items}"
            + (f" (matching {' → '.join(matching)})" if matching else "")
        )

    assert not refused, "\n".join(dict.fromkeys(refused))
    for name, result in results.items():
        q_small, q_large = result["queries"]
        assert q_small == q_large, f"{name}: {q_small} queries small, {q_large} large"
        # Full pages at both sizes: the sizes are compared on the same work.
        assert [len(answer["items"]) for answer in result["answers"]] == [50, 50], name
