"""A malformed body gets 400 with a JSON error, never a 5xx, and nothing is stored.

Bodies that are not JSON, not UTF-8, not an object, or not one of the two documented shapes are
refused whether the instance has a key or not; so is JSON nested too deep to parse. Valid JSON
with a lone surrogate or a NUL character in an event field is acknowledged. Bodies that only
the database refuses are in test_webhook_bodies.py.
"""

from __future__ import annotations

import pytest
from django.test import Client

from instances.events.models import EventNotification
from tests.events.receiver_helpers import deliver, post, url_for

pytestmark = pytest.mark.django_db


# --- Malformed bodies get 400, never 500 ---------------------------------------------------------

MALFORMED = {
    "not-json": b"{not json",
    "empty": b"",
    "not-utf8": b'{"message": "\xff\xfe"}',
    "json-array": b'[{"message": {"events": []}}]',
    "json-string": b'"message"',
    "json-null": b"null",
    "neither-message-nor-response": b'{"eventId": "e", "events": []}',
    "message-not-an-object": b'{"message": "hello"}',
    "message-without-events": b'{"message": {"eventId": "e"}}',
    "events-not-a-list": b'{"message": {"eventId": "e", "events": {"eventType": "CREATED"}}}',
    "events-null": b'{"message": {"eventId": "e", "events": null}}',
    "events-of-strings": b'{"message": {"eventId": "e", "events": ["CREATED"]}}',
    "legacy-response-not-an-object": b'{"response": [], "notificationId": 1}',
    "legacy-events-not-a-list": b'{"response": {"events": "x"}, "notificationId": 1}',
    "big-number": b'{"message": {"eventId": ' + b"9" * 5000 + b', "events": []}}',
}


@pytest.mark.parametrize("body", MALFORMED.values(), ids=MALFORMED.keys())
def test_a_signed_malformed_body_gets_400_and_nothing_is_stored(client, instance, body):
    response = deliver(client, instance, body)

    assert response.status_code == 400
    assert response.json()["error"]
    assert not EventNotification.objects.exists()


@pytest.mark.parametrize("body", MALFORMED.values(), ids=MALFORMED.keys())
def test_an_unsigned_malformed_body_gets_400(client, unsigned_instance, body):
    response = post(client, url_for(unsigned_instance), body)

    assert response.status_code == 400
    assert not EventNotification.objects.exists()


def test_a_deeply_nested_body_gets_400_not_500(unsigned_instance):
    client = Client(raise_request_exception=False)

    response = post(client, url_for(unsigned_instance), b"[" * 100_000)

    assert response.status_code == 400


def test_a_lone_surrogate_in_an_event_field_never_gets_a_5xx(instance):
    client = Client(raise_request_exception=False)
    body = (
        b'{"message": {"eventId": "evt-surrogate", "events": '
        b'[{"eventType": "CREATED", "objectType": "file", "objectId": "/a\\ud800.txt"}]}}'
    )

    response = deliver(client, instance, body)

    # Valid JSON (an escaped lone surrogate): stored, with the surrogate replaced.
    assert response.status_code == 200
    assert EventNotification.objects.get().object_id == "/a?.txt"


def test_a_nul_character_in_an_event_field_is_acknowledged(instance):
    client = Client(raise_request_exception=False)
    body = (
        b'{"message": {"eventId": "evt-nul", "events": '
        b'[{"eventType": "CREATED", "objectType": "file", "objectId": "/a\\u0000b.txt"}]}}'
    )

    response = deliver(client, instance, body)

    assert response.status_code == 200
    assert EventNotification.objects.count() == 1
