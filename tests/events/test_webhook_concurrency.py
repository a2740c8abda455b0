"""Concurrent deliveries of the same event store one row (W6).

Cloud Elements may retry while the first attempt is still being stored. Each thread below is a
separate sender with its own client and database connection; the unique constraint on
(instance, dedup_key) decides, and the losers still get 200 so that the retries stop. Runs on
SQLite and PostgreSQL alike (DATABASE_URL).
"""

from __future__ import annotations

import hashlib
import json
import threading

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse

from instances.events.models import EventNotification
from instances.events.signatures import sign
from instances.models import ElementInstance

pytestmark = pytest.mark.django_db(transaction=True)

KEY = "concurrency-signing-key-Wq9"
SENDERS = 8


def body_for(
    event_id: str | None, *, path: str = "/Reports/q3.pdf", instance_id: int = 4044
) -> bytes:
    message = {
        "elementKey": "dropbox",
        "instanceId": instance_id,
        "events": [{"eventType": "CREATED", "objectType": "file", "objectId": path}],
    }
    if event_id is not None:
        message["eventId"] = event_id
    return json.dumps({"message": message}).encode()


@pytest.fixture
def instance(make_instance) -> ElementInstance:
    instance = make_instance("Busy Dropbox", status=ElementInstance.Status.ACTIVE, remote_id=4044)
    instance.webhook.signature_key = KEY
    instance.webhook.save()
    return instance


def send_at_once(deliveries: list[tuple[str, bytes, dict]]) -> list[int | BaseException]:
    """POST every (url, body, headers) from its own thread, all released together."""
    barrier = threading.Barrier(len(deliveries), timeout=30)
    results: list[int | BaseException] = [RuntimeError("not run")] * len(deliveries)

    def send(position: int, url: str, body: bytes, headers: dict) -> None:
        try:
            client = Client()
            barrier.wait()
            response = client.post(url, data=body, content_type="application/json", **headers)
            results[position] = response.status_code
        except BaseException as error:  # reported by the assertions, not lost in the thread
            results[position] = error
        finally:
            connection.close()

    threads = [
        threading.Thread(target=send, args=(position, *delivery))
        for position, delivery in enumerate(deliveries)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads), "a sender hung"
    return results


def signed(body: bytes, **headers) -> dict:
    return {"HTTP_ELEMENTS_WEBHOOK_SIGNATURE": sign(KEY, body), **headers}


def test_concurrent_deliveries_of_the_same_event_store_one_row(instance, caplog):
    url = reverse("events:receive", args=[instance.uuid])
    body = body_for("evt-raced")

    with caplog.at_level("INFO", logger="instances.events.receiver"):
        results = send_at_once([(url, body, signed(body))] * SENDERS)

    assert results == [200] * SENDERS
    # Every loser reached the insert and was turned away by the unique constraint.
    ignored = [r for r in caplog.records if "redelivery ignored" in r.getMessage()]
    assert len(ignored) == SENDERS - 1
    stored = EventNotification.objects.get()
    assert stored.instance == instance
    assert stored.dedup_key == "event:evt-raced"
    assert stored.signature == EventNotification.Signature.VERIFIED


def test_one_signed_body_raced_with_different_webhook_ids_stores_one_row(instance):
    # The header is not signed: on a keyed instance it never decides what is a duplicate.
    url = reverse("events:receive", args=[instance.uuid])
    body = body_for(None)
    deliveries = [
        (url, body, signed(body, HTTP_ELEMENTS_WEBHOOK_ID=f"wh-raced-{n}")) for n in range(SENDERS)
    ]

    results = send_at_once(deliveries)

    assert results == [200] * SENDERS
    assert list(EventNotification.objects.values_list("dedup_key", flat=True)) == [
        "sha256:" + hashlib.sha256(body).hexdigest()
    ]


def test_concurrent_different_events_are_all_stored(instance):
    url = reverse("events:receive", args=[instance.uuid])
    bodies = [body_for(f"evt-{n}", path=f"/file-{n}.txt") for n in range(SENDERS)]

    results = send_at_once([(url, body, signed(body)) for body in bodies])

    assert results == [200] * SENDERS
    assert set(EventNotification.objects.values_list("remote_event_id", flat=True)) == {
        f"evt-{n}" for n in range(SENDERS)
    }


def test_the_same_event_raced_at_two_instances_is_stored_once_for_each(instance, make_instance):
    other = make_instance("Other Dropbox", status=ElementInstance.Status.ACTIVE, remote_id=5055)
    other.webhook.signature_key = KEY
    other.webhook.save()
    # The same event id, each body naming the instance it is delivered to.
    deliveries = [
        (reverse("events:receive", args=[i.uuid]), body, signed(body))
        for i in (instance, other)
        for body in [body_for("evt-shared", instance_id=i.remote_id)]
    ]

    results = send_at_once(deliveries * (SENDERS // 2))

    assert results == [200] * SENDERS
    assert EventNotification.objects.filter(instance=instance).count() == 1
    assert EventNotification.objects.filter(instance=other).count() == 1
