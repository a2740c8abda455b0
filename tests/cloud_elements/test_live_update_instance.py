"""The client changes an instance with PATCH and PUT, against the sandbox over real HTTP.

PATCH changes the name, replaces the tags and switches events off and on the documented way,
keeping the rest of the configuration; PUT replaces the instance and drops what it does not
repeat. A missing instance, an empty name or masked secrets sent back are refused and change
nothing.
"""

from __future__ import annotations

import pytest

from instances.cloud_elements import client as cloud_elements
from instances.cloud_elements.client import (
    CloudElementsBadRequestError,
    CloudElementsNotFoundError,
)
from instances.parameters import MASKED
from tests.cloud_elements.live_flow import (
    APP_KEY,
    APP_SECRET,
    CALLBACK_URL,
    WEBHOOK_URL,
)

pytestmark = pytest.mark.django_db(transaction=True)


def test_it_updates_name_tags_and_events_with_patch(created):
    updated = cloud_elements.update_instance(
        created.id,
        {
            "name": "Renamed Dropbox",
            "tags": ["operations"],
            "configuration": {"event.notification.enabled": False},
        },
    )

    assert updated.id == created.id
    assert updated.name == "Renamed Dropbox"
    # "Updating tags removes any existing tags": replaced, never merged.
    assert updated.tags == ["operations"]
    assert updated.events_enabled is False
    again = cloud_elements.get_instance(created.id)
    assert (again.name, again.tags, again.events_enabled) == (
        "Renamed Dropbox",
        ["operations"],
        False,
    )
    # A partial configuration leaves the other entries, secrets included, in place.
    assert again.configuration["oauth.api.secret"] == MASKED
    assert again.configuration["event.notification.callback.url"] == WEBHOOK_URL


def test_it_switches_events_off_and_on_the_documented_way_keeping_the_rest(created):
    off = cloud_elements.set_events_enabled(created.id, enabled=False)

    assert off.events_enabled is False
    on = cloud_elements.set_events_enabled(created.id, enabled=True)
    assert on.events_enabled is True
    again = cloud_elements.get_instance(created.id)
    assert again.events_enabled is True
    assert again.configuration["event.notification.callback.url"] == WEBHOOK_URL
    assert again.configuration["oauth.api.secret"] == MASKED
    assert (again.name, again.tags) == (created.name, created.tags)


def test_switching_events_on_can_set_a_missing_callback_url(created):
    cloud_elements.update_instance(
        created.id, {"configuration": {"event.notification.enabled": False}}
    )
    url = "http://127.0.0.1:8000/webhooks/new-receiver/"

    on = cloud_elements.set_events_enabled(created.id, enabled=True, callback_url=url)

    assert on.events_enabled is True
    assert on.configuration["event.notification.callback.url"] == url


def test_it_rejects_a_patch_to_a_missing_instance(sandbox_site):
    with pytest.raises(CloudElementsNotFoundError) as caught:
        cloud_elements.update_instance(987654, {"name": "Nobody"})

    assert caught.value.status == 404


def test_it_rejects_a_patch_with_an_empty_name(created):
    with pytest.raises(CloudElementsBadRequestError) as caught:
        cloud_elements.update_instance(created.id, {"name": "  "})

    assert caught.value.status == 400
    assert cloud_elements.get_instance(created.id).name == "Marketing Dropbox"


def test_it_replaces_an_instance_with_put(created):
    replaced = cloud_elements.replace_instance(
        created.id,
        {
            "name": "Replaced Dropbox",
            "tags": ["archive"],
            "configuration": {
                "oauth.api.key": APP_KEY,
                "oauth.api.secret": APP_SECRET,
                "oauth.callback.url": CALLBACK_URL,
            },
        },
    )

    assert replaced.id == created.id
    assert replaced.name == "Replaced Dropbox"
    assert replaced.tags == ["archive"]
    assert replaced.events_enabled is False
    # A replacement drops what it does not repeat: events and their signature key are gone.
    assert set(replaced.configuration) == {
        "oauth.api.key",
        "oauth.api.secret",
        "oauth.callback.url",
    }
    assert replaced.token == created.token


def test_it_rejects_a_put_that_sends_masked_secrets_back(created):
    with pytest.raises(CloudElementsBadRequestError) as caught:
        cloud_elements.replace_instance(
            created.id,
            {"name": "Careless", "tags": [], "configuration": dict(created.configuration)},
        )

    assert caught.value.status == 400
    assert "oauth.api.secret" in caught.value.remote_message
    assert cloud_elements.get_instance(created.id).name == "Marketing Dropbox"
