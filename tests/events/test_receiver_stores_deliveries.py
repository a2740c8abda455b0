"""A signed delivery is stored once, whole and as received, and answered 200 `{}`.

Both documented body shapes are read: `{"message": {..., "events": [...]}}` and the legacy
`{eventId, instanceId, response: {events}, notificationId}` (reference section 6). The stored
notification keeps the raw body byte for byte and every event of a batch; its summary columns come
from the first event (MIXED when the types differ, UNKNOWN without a type). The JSON answer
carries no page Content-Security-Policy.
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from instances.events.models import EventNotification
from tests.events.receiver_helpers import LEGACY, VERIFIED, deliver, event, message_body

pytestmark = pytest.mark.django_db


# --- A valid delivery ----------------------------------------------------------------------------


def test_it_stores_a_signed_notification_once_as_verified(client, instance):
    body = message_body("evt-1001", events=[event("UPDATED", "/Reports/q3.pdf")])

    response = deliver(client, instance, body, webhook_id="wh-77")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response.json() == {}
    stored = EventNotification.objects.get()
    assert stored.instance == instance
    assert stored.signature == VERIFIED
    assert stored.is_verified
    assert stored.event_type == "UPDATED"
    assert stored.object_type == "file"
    assert stored.object_id == "/Reports/q3.pdf"
    assert stored.remote_event_id == "evt-1001"
    assert stored.webhook_id == "wh-77"
    assert stored.dedup_key == "event:evt-1001"
    assert stored.events == [
        {"eventType": "UPDATED", "objectType": "file", "objectId": "/Reports/q3.pdf"}
    ]
    # The raw body is kept as received, byte for byte.
    assert stored.body.encode() == body
    assert timezone.now() - stored.received_at < timedelta(minutes=1)


def test_it_stores_every_event_of_a_batch_in_one_notification(client, instance):
    events = [
        event("CREATED", "/Reports/q1.pdf"),
        event("CREATED", "/Reports/q2.pdf", objectType="folder"),
        event("CREATED", "/Reports/q3.pdf"),
    ]

    response = deliver(client, instance, message_body("evt-batch", events=events))

    assert response.status_code == 200
    stored = EventNotification.objects.get()
    assert len(stored.events) == 3
    assert [e["objectId"] for e in stored.events] == [
        "/Reports/q1.pdf",
        "/Reports/q2.pdf",
        "/Reports/q3.pdf",
    ]
    assert [e["objectType"] for e in stored.events] == ["file", "folder", "file"]
    # The summary columns come from message.events[0].
    assert (stored.event_type, stored.object_type, stored.object_id) == (
        "CREATED",
        "file",
        "/Reports/q1.pdf",
    )


def test_a_batch_of_different_event_types_is_summarised_as_mixed(client, instance):
    events = [event("CREATED", "/a.txt"), event("DELETED", "/b.txt"), event("UPDATED", "/c.txt")]

    deliver(client, instance, message_body("evt-mixed", events=events))

    stored = EventNotification.objects.get()
    assert stored.event_type == "MIXED"
    assert stored.object_id == "/a.txt"
    assert [e["eventType"] for e in stored.events] == ["CREATED", "DELETED", "UPDATED"]


def test_an_event_without_an_event_type_is_recorded_as_unknown(client, instance):
    body = message_body("evt-untyped", events=[{"objectType": "file", "objectId": "/x"}])

    assert deliver(client, instance, body).status_code == 200

    assert EventNotification.objects.get().event_type == "UNKNOWN"


def test_it_reads_the_documented_legacy_shape(client, instance):
    response = deliver(client, instance, json.dumps(LEGACY).encode())

    assert response.status_code == 200
    assert response.json() == {}
    stored = EventNotification.objects.get()
    assert stored.signature == VERIFIED
    assert stored.object_id == "/testfoldercreate"
    assert stored.object_type == "folder"
    assert stored.event_type == "UNKNOWN"
    assert stored.events == [
        {"eventType": "UNKNOWN", "objectType": "folder", "objectId": "/testfoldercreate"}
    ]
    assert stored.dedup_key == "notification:1047"


def test_the_receivers_json_answer_carries_no_page_policy_and_pages_keep_theirs(client, instance):
    # The policy is for pages; building it cost the receiver a tenth of its CPU per delivery.
    delivered = deliver(client, instance, message_body("evt-no-policy"))
    page = client.get(reverse("admin:login"))

    assert delivered.status_code == 200
    assert "Content-Security-Policy" not in delivered
    assert "default-src 'self'" in page["Content-Security-Policy"]
