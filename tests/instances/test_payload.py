"""The `POST /instances` body and the parameter table are exactly the user's documentation.

What the documentation says is kept in tests/data (transcribed from Cloud Elements' Dropbox
page), so that the suite runs from any clone: tests never read outside the repository.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from instances import consent, parameters
from instances.models import ElementInstance, Tag

DATA = Path(__file__).resolve().parents[1] / "data"


def documented_instance_json() -> dict:
    """The documentation's "Instance JSON with webhooks events enabled"."""
    return json.loads((DATA / "dropbox_instance.json").read_text(encoding="utf-8"))


def documented_parameters() -> list[dict]:
    """The documentation's parameter table, one dict per row."""
    return json.loads((DATA / "dropbox_parameters.json").read_text(encoding="utf-8"))["parameters"]


def as_json(value) -> str:
    # Compared as JSON text, so that True and 1, or "1" and 1, are told apart.
    return json.dumps(value, sort_keys=True)


def instance_with(
    *, events: bool, callback_url: str = "", signature_key: str = "", tags=(), **fields
) -> ElementInstance:
    instance = ElementInstance.objects.create(**fields)
    webhook = instance.webhook
    webhook.enabled = events
    webhook.callback_url = callback_url
    webhook.signature_key = signature_key
    webhook.save()
    instance.tags.set(Tag.for_names(list(tags)))
    # Read back, so that the encrypted secrets make the round trip through the database.
    return ElementInstance.objects.select_related("webhook").get(pk=instance.pk)


@pytest.fixture
def documented_example(db) -> ElementInstance:
    """An instance holding the placeholder values of the documented example."""
    return instance_with(
        name="<INSTANCE_NAME>",
        element_key="dropbox",
        authentication_type=parameters.OAUTH2,
        oauth_api_key="<CLIENT_ID>",
        oauth_api_secret="<CLIENT_SECRET>",
        oauth_callback_url="https://www.mycoolapp.com/auth",
        events=True,
        callback_url="<INSERT_YOUR_APPS_CALLBACK_URL>",
        signature_key="<INSERT_KEY>",
        tags=["<ADD_YOUR_TAGS>"],
    )


def test_the_data_holds_the_documented_instance_json():
    document = documented_instance_json()
    assert set(document) == {"element", "providerData", "configuration", "tags", "name"}
    assert document["configuration"]["event.notification.enabled"] is True


def test_the_payload_has_exactly_the_documented_top_level_keys(documented_example):
    payload = consent.build_instance_payload(documented_example, code="<AUTHORIZATION_GRANT_CODE>")
    assert sorted(payload) == sorted(documented_instance_json())


@pytest.mark.parametrize("key", ["element", "providerData", "tags", "name"])
def test_each_top_level_value_is_the_documented_one(documented_example, key):
    payload = consent.build_instance_payload(documented_example, code="<AUTHORIZATION_GRANT_CODE>")
    assert as_json(payload[key]) == as_json(documented_instance_json()[key])


def test_the_configuration_has_exactly_the_documented_keys(documented_example):
    payload = consent.build_instance_payload(documented_example, code="<AUTHORIZATION_GRANT_CODE>")
    documented = documented_instance_json()["configuration"]
    assert sorted(payload["configuration"]) == sorted(documented)


@pytest.mark.parametrize(
    "key",
    [
        "oauth.api.key",
        "oauth.api.secret",
        "oauth.callback.url",
        "event.notification.enabled",
        "event.notification.callback.url",
        "event.notification.signature.key",
    ],
)
def test_each_configuration_value_is_the_documented_one(documented_example, key):
    payload = consent.build_instance_payload(documented_example, code="<AUTHORIZATION_GRANT_CODE>")
    documented = documented_instance_json()["configuration"]
    assert as_json(payload["configuration"][key]) == as_json(documented[key])


def test_the_whole_payload_equals_the_documented_json(documented_example):
    payload = consent.build_instance_payload(documented_example, code="<AUTHORIZATION_GRANT_CODE>")
    assert as_json(payload) == as_json(documented_instance_json())


def test_the_payload_is_json_serialisable_as_sent(documented_example):
    payload = consent.build_instance_payload(documented_example, code="<AUTHORIZATION_GRANT_CODE>")
    assert json.loads(json.dumps(payload)) == payload


def test_events_disabled_without_a_signature_key_send_false_and_no_key(db):
    instance = instance_with(
        name="Quiet Dropbox",
        oauth_api_key="app-key-123",
        oauth_api_secret="app-secret-very-long-4567",
        oauth_callback_url="https://dashboard.example.com/instances/oauth/callback/",
        events=False,
    )

    configuration = consent.build_instance_payload(instance, code="code-1")["configuration"]

    assert configuration["event.notification.enabled"] is False
    assert "event.notification.signature.key" not in configuration


def test_an_api_key_instance_sends_its_key_and_no_provider_data(db):
    instance = instance_with(
        name="Key Dropbox",
        authentication_type=parameters.API_KEY,
        api_key="the-api-key-0123456789",
        events=False,
        tags=["finance"],
    )

    payload = consent.build_instance_payload(instance)

    assert "providerData" not in payload
    configuration = payload["configuration"]
    assert configuration["authentication.type"] == "apiKey"
    assert configuration[parameters.API_KEY_PARAMETER] == "the-api-key-0123456789"
    assert not {"oauth.api.key", "oauth.api.secret", "oauth.callback.url"} & set(configuration)
    assert payload["element"] == {"key": "dropbox"}
    assert payload["name"] == "Key Dropbox"
    assert payload["tags"] == ["finance"]


def test_the_parameter_table_has_exactly_the_documented_parameters():
    assert list(parameters.PARAMETERS) == [row["name"] for row in documented_parameters()]


@pytest.mark.parametrize("row", documented_parameters(), ids=lambda row: row["name"])
def test_each_parameter_has_the_documented_label_description_and_default(row):
    parameter = parameters.PARAMETERS[row["name"]]
    assert parameter.label == row["label"]
    assert parameter.description == row["description"]
    assert parameter.data_type == row["data_type"]
    assert parameter.optional is row["optional"]
    assert as_json(parameter.default) == as_json(row["default"])
