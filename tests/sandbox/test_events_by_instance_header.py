"""`POST /events/dropbox` with an `Element-Instances: <id>[,<id>…]` header, as Cloud Elements'
own tests drive events (churros `cloud.createEvents`): the named instances get the event,
whatever the body holds; without the header, Dropbox's account routing is unchanged.
Issue 26, item 17."""

from __future__ import annotations

import json

import pytest

from tests.sandbox import test_sandbox_delivery
from tests.sandbox.contract import API, assert_error
from tests.sandbox.test_sandbox_contract_events import create_with_callback, events_of

receiver = test_sandbox_delivery.receiver
loopback_only = test_sandbox_delivery.loopback_only

pytestmark = pytest.mark.django_db
# What a test of Cloud Elements posts: a provider-shaped body naming no Dropbox account.
BODY = {"list_folder": {"accounts": []}, "delta": {"users": []}}


def post_events(client, body, instances: str):
    return client.post(
        f"{API}/events/dropbox",
        json.dumps(body),
        content_type="application/json",
        HTTP_ELEMENT_INSTANCES=instances,
    )


def test_the_header_names_the_instances_that_get_the_event(client, receiver):
    first = create_with_callback(client, receiver.url, name="First")
    second = create_with_callback(client, receiver.url, name="Second")
    other = create_with_callback(client, receiver.url, name="Not named")

    response = post_events(client, BODY, f"{first['id']}, {second['id']}")

    assert response.status_code == 200
    notified = {json.loads(r.body)["message"]["instanceId"] for r in receiver.requests}
    assert notified == {first["id"], second["id"]}
    assert len(events_of(client, first)) == len(events_of(client, second)) == 1
    assert events_of(client, other) == []


def test_with_the_header_any_json_object_is_the_providers_body(client, receiver):
    instance = create_with_callback(client, receiver.url)

    response = post_events(client, {"any": "payload"}, str(instance["id"]))

    assert response.status_code == 200
    (logged,) = events_of(client, instance)
    assert logged["providerData"] == {"any": "payload"}


def test_an_instance_with_events_off_gets_nothing_even_when_named(client, receiver):
    instance = create_with_callback(client, receiver.url, events=False)

    assert post_events(client, BODY, str(instance["id"])).status_code == 200
    assert receiver.requests == []


@pytest.mark.parametrize("header", ["abc", "1,,x", "-3"])
def test_a_malformed_header_is_refused(client, header):
    assert_error(post_events(client, BODY, header), 400)
