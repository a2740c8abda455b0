"""Benchmarks (`make bench`): ratios measured in one run, printed, never asserted on time.

What they show: the instance list and the admin changelist cost the same number of queries
and about the same time with 500 instances as with 50, a full page (pagination, select and
prefetch), and a signed webhook delivery costs a few milliseconds: one read, one insert, no
outbound call.
"""

from __future__ import annotations

import json
import statistics
import time
import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from instances.models import ElementInstance, Tag
from instances.signatures import sign

pytestmark = pytest.mark.django_db

ROUNDS = 30


def median_ms(action, rounds: int = ROUNDS) -> float:
    samples = []
    for _ in range(rounds):
        started = time.perf_counter()
        action()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def add_instances(count: int) -> None:
    tags = [Tag.objects.get_or_create(name=f"team-{n}")[0] for n in range(5)]
    for n in range(count):
        instance = ElementInstance.objects.create(
            name=f"Bench {uuid.uuid4().hex[:8]}",
            status="active",
            remote_id=None,
            oauth_api_key="k",
            oauth_api_secret="bench-secret-value",
        )
        instance.tags.set(tags[: 1 + n % 5])


def measure(client, url: str) -> tuple[int, float]:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries), median_ms(lambda: client.get(url))


@pytest.mark.parametrize("url", ["/instances/", "/admin/instances/elementinstance/"])
def test_pages_cost_the_same_with_50_or_500_instances(client, operator, url):
    client.force_login(operator)
    add_instances(50)
    small_queries, small_ms = measure(client, url)
    add_instances(450)
    large_queries, large_ms = measure(client, url)
    print(
        f"\n{url}: queries 50→{small_queries}, 500→{large_queries}; "
        f"median {small_ms:.1f} ms → {large_ms:.1f} ms (ratio {large_ms / small_ms:.2f})"
    )
    assert large_queries == small_queries


def test_a_signed_delivery_costs_about_as_much_as_the_health_check(client, make_instance):
    instance = make_instance("Receiver")
    instance.webhook.signature_key = "bench-signature-key"
    instance.webhook.save()
    url = f"/webhooks/{instance.uuid}/"
    counter = iter(range(10**9))

    def deliver():
        body = json.dumps(
            {
                "message": {
                    "eventId": str(next(counter)),
                    "events": [
                        {"eventType": "CREATED", "objectType": "file", "objectId": "/a.txt"}
                    ],
                }
            }
        ).encode()
        response = client.post(
            url,
            body,
            content_type="application/json",
            HTTP_ELEMENTS_WEBHOOK_SIGNATURE=sign("bench-signature-key", body),
        )
        assert response.status_code == 200

    with CaptureQueriesContext(connection) as queries:
        deliver()
    # Counted at once: the connection's query log is a bounded deque that later calls shift.
    count = len(queries)
    delivery_ms = median_ms(deliver, rounds=200)
    health_ms = median_ms(lambda: client.get("/healthz"), rounds=200)
    print(
        f"\nwebhook delivery: {count} queries, median {delivery_ms:.2f} ms; "
        f"/healthz {health_ms:.2f} ms (ratio {delivery_ms / health_ms:.2f})"
    )
    assert count <= 5
