"""Editing an active instance's settings: name, tags, event receiver and signature key.

The change goes to Cloud Elements first (`PATCH /instances/{id}`, the whole tag list, the
signature key only when one is typed) and is saved here only once it was accepted; a remote
error changes nothing. A new signature key keeps the previous one valid for 72 hours, and the key
is never shown. The integration test uses the sandbox over real HTTP; the others fake one client
function at the seam, so that `except CloudElementsError` sees the real class.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from instances.cloud_elements import client as cloud_elements
from instances.cloud_elements.client import CloudElementsBadRequestError, Instance
from instances.models import WebhookSettings
from instances.parameters import MASKED
from tests.instances.lifecycle_helpers import (
    NEW_KEY,
    NEW_RECEIVER,
    OLD_KEY,
    RECEIVER_URL,
    Action,
    create_remote_instance,
    live,
    local_copy,
    reload,
    url,
)


def echo(instance_id: int, changes: dict) -> Instance:
    """What Cloud Elements answers to an accepted PATCH (secrets masked)."""
    configuration = {
        key: MASKED if key.endswith("signature.key") else value
        for key, value in changes.get("configuration", {}).items()
    }
    return Instance(
        id=instance_id,
        name=changes.get("name", ""),
        element_key="dropbox",
        tags=list(changes.get("tags", [])),
        configuration=configuration,
        events_enabled=True,
    )


@pytest.fixture
def patched(monkeypatch) -> list[tuple[int, dict]]:
    """Accept every PATCH, recording it."""
    calls: list[tuple[int, dict]] = []

    def update_instance(instance_id: int, changes: dict) -> Instance:
        calls.append((instance_id, changes))
        return echo(instance_id, changes)

    monkeypatch.setattr(cloud_elements, "update_instance", update_instance)
    return calls


def settings_form(**changes) -> dict:
    data = {
        "name": "Marketing Dropbox EU",
        "tags": "marketing, eu, q3",
        "event_callback_url": NEW_RECEIVER,
        "new_signature_key": "",
    }
    return {**data, **changes}


def test_the_edit_page_shows_the_current_settings_but_never_the_signature_key(
    client, operator, active
):
    client.force_login(operator)

    response = client.get(url("edit", active))

    assert response.status_code == 200
    page = response.text
    assert 'value="Marketing Dropbox"' in page
    assert re.search(r'id="id_tags">\s*eu, marketing</textarea>', page)
    assert f'value="{RECEIVER_URL}"' in page
    assert f"PATCH /instances/{active.remote_id}" in page
    assert OLD_KEY not in page
    assert OLD_KEY[:-4] not in page
    assert "••••6789" in page  # the masked key, so the operator knows one is set


def test_saving_pushes_name_the_full_tag_list_and_the_callback_url(
    client, operator, active, patched
):
    client.force_login(operator)

    response = client.post(url("edit", active), settings_form())

    assert response.status_code == 302
    assert response["Location"] == active.get_absolute_url()
    assert patched == [
        (
            7301,
            {
                "name": "Marketing Dropbox EU",
                "tags": ["marketing", "eu", "q3"],
                "configuration": {"event.notification.callback.url": NEW_RECEIVER},
            },
        )
    ]
    instance = reload(active)
    assert instance.name == "Marketing Dropbox EU"
    assert sorted(instance.tag_names()) == ["eu", "marketing", "q3"]
    assert instance.webhook.callback_url == NEW_RECEIVER
    assert instance.webhook.signature_key == OLD_KEY
    assert instance.webhook.previous_signature_key == ""
    assert instance.audit_entries.get().action == Action.UPDATED


def test_saving_sends_the_whole_tag_list_even_when_a_tag_is_removed(
    client, operator, active, patched
):
    client.force_login(operator)

    client.post(url("edit", active), settings_form(tags="eu"))

    assert patched[0][1]["tags"] == ["eu"]
    assert reload(active).tag_names() == ["eu"]


def test_a_typed_signature_key_is_sent_and_only_then(client, operator, active, patched):
    client.force_login(operator)

    client.post(url("edit", active), settings_form(new_signature_key=""))
    client.post(url("edit", active), settings_form(new_signature_key=NEW_KEY))

    assert "event.notification.signature.key" not in patched[0][1]["configuration"]
    assert patched[1][1]["configuration"] == {
        "event.notification.callback.url": NEW_RECEIVER,
        "event.notification.signature.key": NEW_KEY,
    }


def test_a_new_signature_key_keeps_the_previous_one_for_72_hours(client, operator, active, patched):
    client.force_login(operator)
    before = timezone.now()

    client.post(url("edit", active), settings_form(new_signature_key=NEW_KEY))

    webhook = reload(active).webhook
    assert webhook.signature_key == NEW_KEY
    assert webhook.previous_signature_key == OLD_KEY
    expires = webhook.previous_signature_key_expires_at
    assert before + timedelta(hours=72) <= expires <= timezone.now() + timedelta(hours=72)
    assert webhook.accepted_keys() == [NEW_KEY, OLD_KEY]
    assert "signature key changed" in active.audit_entries.get().detail


def test_the_previous_signature_key_is_refused_after_72_hours(client, operator, active, patched):
    client.force_login(operator)
    client.post(url("edit", active), settings_form(new_signature_key=NEW_KEY))
    assert reload(active).webhook.accepted_keys() == [NEW_KEY, OLD_KEY]
    WebhookSettings.objects.filter(instance=active).update(
        previous_signature_key_expires_at=timezone.now() - timedelta(seconds=1)
    )

    assert reload(active).webhook.accepted_keys() == [NEW_KEY]


def test_nothing_changes_here_before_cloud_elements_accepts(client, operator, active, monkeypatch):
    seen_during_the_call: list[tuple] = []

    def update_instance(instance_id: int, changes: dict) -> Instance:
        instance = reload(active)
        seen_during_the_call.append(
            (instance.name, sorted(instance.tag_names()), instance.webhook.callback_url)
        )
        return echo(instance_id, changes)

    monkeypatch.setattr(cloud_elements, "update_instance", update_instance)
    client.force_login(operator)

    client.post(url("edit", active), settings_form(new_signature_key=NEW_KEY))

    assert seen_during_the_call == [("Marketing Dropbox", ["eu", "marketing"], RECEIVER_URL)]
    assert reload(active).name == "Marketing Dropbox EU"


def test_a_remote_error_changes_nothing_and_shows_the_form_again(
    client, operator, active, monkeypatch
):
    def update_instance(instance_id: int, changes: dict) -> Instance:
        raise CloudElementsBadRequestError(
            "Cloud Elements rejected the request. Cloud Elements says: bad callback URL.",
            status=400,
            request_id="req-edit-1",
        )

    monkeypatch.setattr(cloud_elements, "update_instance", update_instance)
    client.force_login(operator)

    response = client.post(url("edit", active), settings_form(new_signature_key=NEW_KEY))

    assert response.status_code == 400
    assert "Nothing was changed." in response.text
    assert "Cloud Elements says: bad callback URL." in response.text
    assert 'value="Marketing Dropbox EU"' in response.text  # the typed input is kept
    assert NEW_KEY not in response.text
    instance = reload(active)
    assert instance.name == "Marketing Dropbox"
    assert sorted(instance.tag_names()) == ["eu", "marketing"]
    assert instance.webhook.callback_url == RECEIVER_URL
    assert instance.webhook.signature_key == OLD_KEY
    assert instance.webhook.previous_signature_key == ""
    failure = instance.audit_entries.get()
    assert (failure.action, failure.request_id) == (Action.REMOTE_ERROR, "req-edit-1")


def test_an_invalid_form_sends_nothing(client, operator, active, patched):
    client.force_login(operator)

    response = client.post(
        url("edit", active), settings_form(event_callback_url="http://hooks.example.com/")
    )

    assert response.status_code == 400
    assert patched == []
    assert reload(active).webhook.callback_url == RECEIVER_URL


def test_a_view_only_user_cannot_edit(client, viewer, active, patched):
    client.force_login(viewer)

    assert client.get(url("edit", active)).status_code == 403
    assert client.post(url("edit", active), settings_form()).status_code == 403
    assert patched == []
    assert reload(active).name == "Marketing Dropbox"


@live
def test_saving_changes_the_instance_at_the_sandbox(
    sandbox_site, settings, client, operator, make_instance
):
    remote = create_remote_instance(settings, tags=("marketing", "eu"), signature_key=OLD_KEY)
    instance = local_copy(make_instance, remote, callback_url=RECEIVER_URL)
    client.force_login(operator)

    response = client.post(
        url("edit", instance), settings_form(tags="finance", new_signature_key=NEW_KEY)
    )

    assert response.status_code == 302
    at_sandbox = cloud_elements.get_instance(remote.id)
    assert at_sandbox.name == "Marketing Dropbox EU"
    assert at_sandbox.tags == ["finance"]  # replaced, not merged
    assert at_sandbox.setting("event.notification.callback.url") == NEW_RECEIVER
    assert at_sandbox.configuration["event.notification.signature.key"] == MASKED
    instance = reload(instance)
    assert instance.tag_names() == ["finance"]
    assert instance.webhook.signature_key == NEW_KEY
