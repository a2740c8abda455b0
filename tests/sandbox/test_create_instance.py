"""The sandbox's `POST /instances` (and `POST /elements/{key}/instances`): creating an instance.

A valid body answers the documented instance object with every secret masked and none echoed;
a body missing what the reference (or, where it is silent, the sandbox's choice) requires, a
masked value sent back, or a body that is not JSON, is a 400 in the documented error shape that
creates nothing. The authorization code inside the body has tests of its own
(test_authorization_codes.py).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from instances.sandbox.models import SandboxInstance
from tests.sandbox.contract import (
    APP_KEY,
    APP_SECRET,
    CALLBACK_URL,
    MASKED,
    SIGNING_KEY,
    WEBHOOK_URL,
    assert_error,
    get,
    instance_body,
    new_code,
    post_json,
)

pytestmark = pytest.mark.django_db


SECRET_KEYS = ("oauth.api.key", "oauth.api.secret", "event.notification.signature.key")


def test_creating_an_instance_answers_the_documented_instance_object(client):
    before = datetime.now(UTC).replace(microsecond=0)

    response = post_json(client, "/instances", instance_body(new_code(client)))

    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert isinstance(body["id"], int)
    assert body["name"] == "Finance Dropbox"
    assert isinstance(body["token"], str) and body["token"]
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z", body["createdDate"])
    created = datetime.strptime(body["createdDate"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert before - timedelta(seconds=1) <= created <= datetime.now(UTC) + timedelta(seconds=1)
    element = body["element"]
    assert isinstance(element["id"], int)
    assert element["key"] == "dropbox"
    assert isinstance(element["name"], str) and element["name"]
    assert element["authentication"] == {"type": "oauth2"}
    assert body["configuration"] == {
        "oauth.api.key": MASKED,
        "oauth.api.secret": MASKED,
        "oauth.callback.url": CALLBACK_URL,
        "event.notification.enabled": True,
        "event.notification.callback.url": WEBHOOK_URL,
        "event.notification.signature.key": MASKED,
    }
    assert body["tags"] == ["finance", "q3"]
    assert body["valid"] is True
    assert body["disabled"] is False
    assert body["eventsEnabled"] is True
    assert isinstance(body["user"], dict)
    assert {"id", "emailAddress", "firstName", "lastName"} <= set(body["user"])


def test_creating_an_instance_never_echoes_a_secret(client):
    response = post_json(client, "/instances", instance_body(new_code(client)))

    assert response.status_code == 200
    text = response.content.decode()
    for secret in (APP_KEY, APP_SECRET, SIGNING_KEY):
        assert secret not in text


def test_an_instance_can_be_created_on_the_element_scoped_endpoint(client):
    body = instance_body(new_code(client))
    del body["element"]

    response = post_json(client, "/elements/dropbox/instances", body)

    assert response.status_code == 200
    created = response.json()
    assert created["element"]["key"] == "dropbox"
    assert created["configuration"]["oauth.api.secret"] == MASKED
    assert get(client, f"/instances/{created['id']}").json()["token"] == created["token"]


def test_the_element_scoped_endpoint_answers_404_for_an_unknown_element(client):
    body = instance_body(new_code(client))
    del body["element"]

    response = post_json(client, "/elements/no-such-element/instances", body)

    assert_error(response, 404)
    assert not SandboxInstance.objects.exists()


def test_string_booleans_are_accepted_as_documented(client):
    body = instance_body(new_code(client))
    body["configuration"]["event.notification.enabled"] = "true"

    response = post_json(client, "/instances", body)

    assert response.status_code == 200
    assert response.json()["eventsEnabled"] is True


def test_events_are_off_by_default(client):
    body = instance_body(new_code(client))
    del body["configuration"]["event.notification.enabled"]

    response = post_json(client, "/instances", body)

    assert response.status_code == 200
    assert response.json()["eventsEnabled"] is False


@pytest.mark.parametrize("name", [None, "", "   "], ids=["absent", "empty", "blank"])
def test_an_instance_needs_a_name(client, name):
    body = instance_body(new_code(client))
    if name is None:
        del body["name"]
    else:
        body["name"] = name

    response = post_json(client, "/instances", body)

    assert_error(response, 400, naming="name")
    assert not SandboxInstance.objects.exists()


def test_an_unknown_element_key_is_rejected(client):
    # The sandbox's choice: 400 in the body (the path form answers 404).
    body = instance_body(new_code(client))
    body["element"] = {"key": "no-such-element"}

    response = post_json(client, "/instances", body)

    assert_error(response, 400)
    assert not SandboxInstance.objects.exists()


@pytest.mark.parametrize("enabled", [True, "true"])
def test_events_enabled_needs_a_callback_url(client, enabled):
    # The sandbox's choice: the reference never says the callback URL is then required.
    body = instance_body(new_code(client))
    body["configuration"]["event.notification.enabled"] = enabled
    del body["configuration"]["event.notification.callback.url"]

    response = post_json(client, "/instances", body)

    assert_error(response, 400, naming="event.notification.callback.url")
    assert not SandboxInstance.objects.exists()


@pytest.mark.parametrize("key", ["oauth.api.key", "oauth.api.secret", "oauth.callback.url"])
def test_a_missing_oauth_configuration_entry_is_rejected_naming_it(client, key):
    body = instance_body(new_code(client))
    del body["configuration"][key]

    response = post_json(client, "/instances", body)

    assert_error(response, 400, naming=key)
    assert not SandboxInstance.objects.exists()


def test_a_body_that_is_not_json_is_rejected(client):
    response = post_json(client, "/instances", "{not json")

    assert_error(response, 400)
    assert not SandboxInstance.objects.exists()


@pytest.mark.parametrize("key", SECRET_KEYS)
def test_a_masked_value_sent_back_is_rejected(client, key):
    # The sandbox's choice: the reference only warns "never send a returned configuration
    # object back as-is" (section 4); what Cloud Elements does with one is undocumented.
    body = instance_body(new_code(client))
    body["configuration"][key] = MASKED

    response = post_json(client, "/instances", body)

    assert_error(response, 400)
    assert not SandboxInstance.objects.exists()


@pytest.mark.parametrize("field", ["element", "providerData"])
def test_creating_with_a_non_object_element_or_provider_data_is_a_400_not_a_500(client, field):
    body = instance_body(new_code(client))
    body[field] = "dropbox"
    client.raise_request_exception = False

    response = post_json(client, "/instances", body)

    assert_error(response, 400)
    assert not SandboxInstance.objects.exists()
