"""The sandbox's `GET /instances/{id}/configuration`: the entries, as strings, secrets masked.

Each entry has an id, a key and a string property value, secrets masked and documented defaults
reported; the ids stay stable across calls and updates (the sandbox's choice), and an unknown
instance is a 404.
"""

from __future__ import annotations

import pytest

from tests.sandbox.contract import (
    APP_KEY,
    APP_SECRET,
    CALLBACK_URL,
    MASKED,
    SIGNING_KEY,
    WEBHOOK_URL,
    assert_error,
    configuration_entries,
    create_instance,
    get,
    patch_json,
)

pytestmark = pytest.mark.django_db


def test_configuration_lists_string_property_values_with_secrets_masked(client):
    created = create_instance(client)

    response = get(client, f"/instances/{created['id']}/configuration")

    assert response.status_code == 200
    entries = response.json()
    assert isinstance(entries, list)
    for entry in entries:
        assert {"id", "key", "propertyValue"} <= set(entry)
        assert isinstance(entry["id"], int)
        assert isinstance(entry["propertyValue"], str)
    values = {entry["key"]: entry["propertyValue"] for entry in entries}
    assert values == {
        "oauth.api.key": MASKED,
        "oauth.api.secret": MASKED,
        "oauth.callback.url": CALLBACK_URL,
        "event.notification.enabled": "true",
        "event.notification.callback.url": WEBHOOK_URL,
        "event.notification.signature.key": MASKED,
        # Reported with its documented default although it was not sent (section 4).
        "filter.response.nulls": "true",
    }
    assert len({entry["id"] for entry in entries}) == len(entries)
    for secret in (APP_KEY, APP_SECRET, SIGNING_KEY):
        assert secret not in response.content.decode()


def test_sandbox_choice_configuration_ids_are_stable_across_calls_and_updates(client):
    """The reference is silent on whether ids survive an update; the sandbox keeps them."""
    created = create_instance(client)
    first = {key: e["id"] for key, e in configuration_entries(client, created["id"]).items()}

    second = {key: e["id"] for key, e in configuration_entries(client, created["id"]).items()}
    patch_json(
        client,
        f"/instances/{created['id']}",
        {"configuration": {"event.notification.enabled": False}},
    )
    third = {key: e["id"] for key, e in configuration_entries(client, created["id"]).items()}

    assert first == second == third


def test_configuration_answers_404_for_an_unknown_instance(client):
    assert_error(get(client, "/instances/987654/configuration"), 404)
