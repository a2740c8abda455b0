"""The URL's UUID chooses the instance and its key; a body naming another instance is refused (W4).

An unknown, malformed or deleted instance gets 404 and only POST is allowed. The key that must
have signed a delivery is the one of the instance in the URL, never one the body points to, and
a body whose `instanceId` or `instance_id` names another Cloud Elements instance gets 400 even
when signed, so that two instances sharing a key cannot accept each other's deliveries. How the
lookup is kept between deliveries is in test_receiver_cache.py.
"""

from __future__ import annotations

import json
import uuid

import pytest
from django.urls import reverse

from instances.events.models import EventNotification
from instances.events.signatures import sign
from instances.models import ElementInstance
from tests.events.receiver_helpers import (
    ACTIVE,
    KEY,
    LEGACY,
    OTHER_KEY,
    deliver,
    event,
    message_body,
    post,
    url_for,
    with_key,
)

pytestmark = pytest.mark.django_db


# --- Which instance (W4) -------------------------------------------------------------------------


def test_an_unknown_instance_gets_404(client, db):
    body = message_body("evt-nobody")

    response = post(
        client, reverse("events:receive", args=[uuid.uuid4()]), body, signature=sign(KEY, body)
    )

    assert response.status_code == 404
    assert not EventNotification.objects.exists()


def test_a_path_that_is_not_a_uuid_gets_404(client, instance):
    body = message_body("evt-bad-path")

    response = post(client, "/webhooks/1011/", body, signature=sign(KEY, body))

    assert response.status_code == 404
    assert not EventNotification.objects.exists()


def test_a_deleted_instance_gets_404(client, instance):
    instance.status = ElementInstance.Status.DELETED
    instance.save()

    response = deliver(client, instance, message_body("evt-after-delete"))

    assert response.status_code == 404
    assert not EventNotification.objects.exists()


@pytest.mark.parametrize("method", ["get", "put", "patch", "delete", "head"])
def test_only_post_is_allowed(client, instance, method):
    response = getattr(client, method)(url_for(instance))

    assert response.status_code == 405
    assert response["Allow"] == "POST"
    assert not EventNotification.objects.exists()


def test_a_signed_body_naming_another_instance_is_refused(client, instance, make_instance):
    # Two instances sharing a key must not accept each other's deliveries.
    other = with_key(make_instance("Other Dropbox", status=ACTIVE, remote_id=3033), KEY)
    body = message_body("evt-claims-other", instance_id=other.remote_id, instanceName=other.name)

    response = deliver(client, instance, body, key=KEY)

    assert response.status_code == 400
    assert response.json() == {
        "error": "The notification names another Cloud Elements instance than this one."
    }
    assert not EventNotification.objects.exists()
    assert deliver(client, other, body, key=KEY).status_code == 200
    assert EventNotification.objects.get().instance == other


@pytest.mark.parametrize(
    "named",
    [
        {"instanceId": 3033},
        {"instance_id": 3033},
        {"instanceId": 1011, "instance_id": 3033},
        {"instanceId": "3033"},
        {"instanceId": "1011x"},
        {"instanceId": True},
    ],
    ids=["instanceId", "instance_id", "either-differs", "string", "not-a-number", "boolean"],
)
def test_any_named_instance_id_that_differs_is_refused(client, instance, named):
    message = {"eventId": "evt-x", "events": [event()], **named}
    body = json.dumps({"message": message}).encode()

    assert deliver(client, instance, body).status_code == 400
    assert not EventNotification.objects.exists()


def test_a_legacy_body_naming_another_instance_is_refused(client, instance):
    body = json.dumps({**LEGACY, "instanceId": 31}).encode()

    assert deliver(client, instance, body).status_code == 400
    assert not EventNotification.objects.exists()


@pytest.mark.parametrize(
    "named", [{}, {"instanceId": "1011"}, {"instanceId": 1011.0}, {"instanceId": None}]
)
def test_a_body_naming_this_instance_or_none_is_accepted(client, instance, named):
    body = json.dumps({"message": {"eventId": "evt-y", "events": [event()], **named}}).encode()

    assert deliver(client, instance, body).status_code == 200
    assert EventNotification.objects.count() == 1


def test_an_unsigned_body_naming_another_instance_is_refused(client, unsigned_instance):
    response = post(client, url_for(unsigned_instance), message_body("evt-z", instance_id=1011))

    assert response.status_code == 400
    assert not EventNotification.objects.exists()


def test_the_key_is_chosen_by_the_url_not_the_body(client, instance, make_instance):
    other = with_key(make_instance("Other Dropbox", status=ACTIVE, remote_id=3033), OTHER_KEY)
    body = message_body("evt-other-key", instance_id=other.remote_id)

    # Signed with the other instance's key, sent to this instance's URL.
    response = deliver(client, instance, body, key=OTHER_KEY)

    assert response.status_code == 401
    assert not EventNotification.objects.exists()
