"""The sandbox's `PATCH` and `PUT /instances/{id}`: changing an instance while it keeps its id.

PATCH changes the name, replaces the tags, switches events off and on keeping the rest of the
configuration, and reauthorizes with a new code; PUT replaces the instance. A used code, the
returned (masked) configuration sent back, a missing name or a malformed body is a 400 that
changes nothing, and an unknown id is a 404.
"""

from __future__ import annotations

import pytest

from instances.sandbox.models import SandboxInstance
from tests.sandbox.contract import (
    CALLBACK_URL,
    MASKED,
    assert_error,
    configuration_entries,
    create_instance,
    get,
    instance_body,
    new_code,
    patch_json,
    post_json,
    put_json,
)

pytestmark = pytest.mark.django_db


# --- PATCH /instances/{id} ------------------------------------------------------------------


def test_patch_changes_the_name(client):
    created = create_instance(client)

    response = patch_json(client, f"/instances/{created['id']}", {"name": "Renamed"})

    assert response.status_code == 200
    assert response.json()["name"] == "Renamed"
    assert get(client, f"/instances/{created['id']}").json()["name"] == "Renamed"


def test_patch_replaces_the_tags_rather_than_merging_them(client):
    created = create_instance(client)

    # The documented example body, id included.
    response = patch_json(
        client, f"/instances/{created['id']}", {"id": created["id"], "tags": ["archive"]}
    )

    assert response.status_code == 200
    assert response.json()["tags"] == ["archive"]
    assert get(client, f"/instances/{created['id']}").json()["tags"] == ["archive"]


def test_patch_switches_events_off_and_on_keeping_the_rest_of_the_configuration(client):
    created = create_instance(client)
    path = f"/instances/{created['id']}"

    off = patch_json(client, path, {"configuration": {"event.notification.enabled": False}})

    assert off.status_code == 200
    assert off.json()["eventsEnabled"] is False
    assert off.json()["configuration"] == {
        **created["configuration"],
        "event.notification.enabled": False,
    }
    assert get(client, path).json()["eventsEnabled"] is False
    assert (
        configuration_entries(client, created["id"])["event.notification.enabled"]["propertyValue"]
        == "false"
    )

    on = patch_json(client, path, {"configuration": {"event.notification.enabled": True}})

    assert on.status_code == 200
    assert on.json()["eventsEnabled"] is True
    assert on.json()["configuration"]["event.notification.enabled"] is True
    assert (
        configuration_entries(client, created["id"])["event.notification.enabled"]["propertyValue"]
        == "true"
    )


def test_patch_reauthorizes_with_a_new_code_keeping_the_same_id(client):
    created = create_instance(client)
    code = new_code(client)

    response = patch_json(
        client,
        f"/instances/{created['id']}",
        {"name": "Reconnected", "providerData": {"code": code}},
    )

    assert response.status_code == 200
    assert response.json()["id"] == created["id"]
    assert response.json()["name"] == "Reconnected"
    assert response.json()["valid"] is True
    assert SandboxInstance.objects.count() == 1
    # The code was redeemed by the PATCH: it cannot create another instance.
    assert_error(post_json(client, "/instances", instance_body(code)), 400)


def test_patch_rejects_a_used_code_and_changes_nothing(client):
    # The sandbox's choice: 400 (the status for a bad code is UNCONFIRMED, section 4).
    code = new_code(client)
    created = post_json(client, "/instances", instance_body(code)).json()

    response = patch_json(
        client, f"/instances/{created['id']}", {"name": "Replayed", "providerData": {"code": code}}
    )

    assert_error(response, 400)
    assert get(client, f"/instances/{created['id']}").json()["name"] == created["name"]


def test_patch_rejects_the_returned_configuration_sent_back_as_is(client):
    # The sandbox's choice, as for creation: the reference only warns against doing it.
    created = create_instance(client)
    instance = SandboxInstance.objects.get(pk=created["id"])
    stored = instance.full_configuration()

    response = patch_json(
        client, f"/instances/{created['id']}", {"configuration": created["configuration"]}
    )

    assert_error(response, 400)
    instance.refresh_from_db()
    assert instance.full_configuration() == stored


def test_patch_answers_404_for_an_unknown_instance(client):
    assert_error(patch_json(client, "/instances/987654", {"name": "x"}), 404)


def test_patching_with_a_non_object_provider_data_is_a_400_not_a_500(client):
    created = create_instance(client)
    client.raise_request_exception = False

    response = patch_json(client, f"/instances/{created['id']}", {"providerData": "a-code"})

    assert_error(response, 400)


# --- PUT /instances/{id} --------------------------------------------------------------------


def test_put_replaces_the_instance_keeping_its_id(client):
    created = create_instance(client)
    body = instance_body(new_code(client), name="Replaced", tags=["archive"])
    body["configuration"]["event.notification.enabled"] = False
    del body["configuration"]["event.notification.callback.url"]
    del body["configuration"]["event.notification.signature.key"]

    response = put_json(client, f"/instances/{created['id']}", body)

    assert response.status_code == 200
    replaced = response.json()
    assert replaced["id"] == created["id"]
    assert replaced["name"] == "Replaced"
    assert replaced["tags"] == ["archive"]
    assert replaced["eventsEnabled"] is False
    assert replaced["configuration"] == {
        "oauth.api.key": MASKED,
        "oauth.api.secret": MASKED,
        "oauth.callback.url": CALLBACK_URL,
        "event.notification.enabled": False,
    }
    assert (
        get(client, f"/instances/{created['id']}").json()["configuration"]
        == (replaced["configuration"])
    )
    assert SandboxInstance.objects.count() == 1


def test_put_accepts_the_documented_example_body_of_name_and_tags(client):
    created = create_instance(client)

    response = put_json(
        client,
        f"/instances/{created['id']}",
        {"name": "SFDC Updated Instance", "tags": ["tag1", "tag2"]},
    )

    assert response.status_code == 200
    assert response.json()["name"] == "SFDC Updated Instance"
    assert response.json()["tags"] == ["tag1", "tag2"]


def test_put_needs_a_name(client):
    created = create_instance(client)
    body = instance_body(None)
    del body["name"]
    del body["providerData"]

    assert_error(put_json(client, f"/instances/{created['id']}", body), 400, naming="name")
    assert get(client, f"/instances/{created['id']}").json()["name"] == created["name"]
