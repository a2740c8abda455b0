"""The instance page's switch turns event notifications on and off, at Cloud Elements first.

The switch is `PATCH /instances/{id}` with `{"configuration": {"event.notification.enabled": …}}`
(reference section 5), and nothing else; only once Cloud Elements accepted it does the dashboard
record the new state, and when the answer is lost it reads the instance back. It then returns to
the page it was pressed on, never to another site. Integration tests run it against the sandbox
over real HTTP, the remote instance created as production creates it (consent URL, Allow,
`POST /instances`); the other paths fake one client function at the seam.
"""

from __future__ import annotations

import pytest
from django.urls import reverse

from instances.cloud_elements import client as cloud_elements
from instances.cloud_elements.client import (
    CloudElementsNotFoundError,
    CloudElementsServerError,
    Instance,
)
from instances.models import AuditEntry, WebhookSettings
from tests.instances.lifecycle_helpers import (
    ACTIVE,
    RECEIVER_URL,
    audit_actions,
    create_remote_instance,
    events_url,
    live,
    local_copy,
    reload,
    shown_messages,
)

# --- Against the sandbox --------------------------------------------------------------------------


@live
def test_turning_events_on_switches_them_on_at_cloud_elements_then_here(
    sandbox_site, settings, client, operator, make_instance
):
    remote = create_remote_instance(settings, events_enabled=False)
    instance = local_copy(make_instance, remote, enabled=False, callback_url=RECEIVER_URL)
    client.force_login(operator)

    response = client.post(events_url(instance), {"enabled": "on"}, follow=True)

    at_sandbox = cloud_elements.get_instance(remote.id)
    assert at_sandbox.events_enabled is True
    assert at_sandbox.configuration["event.notification.enabled"] is True
    assert at_sandbox.configuration["event.notification.callback.url"] == RECEIVER_URL
    assert reload(instance).webhook.enabled is True
    assert audit_actions(instance) == [AuditEntry.Action.EVENTS_ENABLED]
    assert instance.audit_entries.get().actor == operator
    assert ("success", "Marketing Dropbox: events turned on.") in shown_messages(response)


@live
def test_turning_events_off_switches_them_off_at_cloud_elements_then_here(
    sandbox_site, settings, client, operator, make_instance
):
    remote = create_remote_instance(settings, events_enabled=True)
    instance = local_copy(make_instance, remote, enabled=True, callback_url=RECEIVER_URL)
    client.force_login(operator)

    response = client.post(events_url(instance), {"enabled": "off"}, follow=True)

    at_sandbox = cloud_elements.get_instance(remote.id)
    assert at_sandbox.events_enabled is False
    assert at_sandbox.configuration["event.notification.enabled"] is False
    webhook = reload(instance).webhook
    assert webhook.enabled is False
    assert webhook.callback_url == RECEIVER_URL
    assert audit_actions(instance) == [AuditEntry.Action.EVENTS_DISABLED]
    assert ("success", "Marketing Dropbox: events turned off.") in shown_messages(response)


@live
def test_events_on_then_off_round_trips(sandbox_site, settings, client, operator, make_instance):
    remote = create_remote_instance(settings, events_enabled=False)
    instance = local_copy(make_instance, remote, enabled=False, callback_url=RECEIVER_URL)
    client.force_login(operator)

    client.post(events_url(instance), {"enabled": "on"})
    assert cloud_elements.get_instance(remote.id).events_enabled is True
    client.post(events_url(instance), {"enabled": "off"})

    assert cloud_elements.get_instance(remote.id).events_enabled is False
    assert reload(instance).webhook.enabled is False
    assert audit_actions(instance) == [
        AuditEntry.Action.EVENTS_DISABLED,
        AuditEntry.Action.EVENTS_ENABLED,
    ]


@live
def test_turning_events_on_without_a_callback_url_sends_our_own_receiver(
    sandbox_site, settings, client, operator, make_instance
):
    remote = create_remote_instance(settings, events_enabled=False, callback_url="")
    instance = local_copy(make_instance, remote, enabled=False, callback_url="")
    client.force_login(operator)

    client.post(events_url(instance), {"enabled": "on"})

    receiver = f"{settings.SITE_URL}/webhooks/{instance.uuid}/"
    at_sandbox = cloud_elements.get_instance(remote.id)
    assert at_sandbox.events_enabled is True
    assert at_sandbox.configuration["event.notification.callback.url"] == receiver
    webhook = reload(instance).webhook
    assert webhook.enabled is True
    assert webhook.callback_url == receiver


@live
def test_a_remote_error_leaves_events_unchanged_and_says_so(
    sandbox_site, settings, client, operator, make_instance
):
    remote = create_remote_instance(settings, events_enabled=False)
    instance = local_copy(make_instance, remote, enabled=False, callback_url=RECEIVER_URL)
    cloud_elements.delete_instance(remote.id)
    client.force_login(operator)

    response = client.post(events_url(instance), {"enabled": "on"}, follow=True)

    assert reload(instance).webhook.enabled is False
    [(level, text)] = shown_messages(response)
    assert level == "error"
    assert text.startswith("Marketing Dropbox: events are still off.")
    assert CloudElementsNotFoundError.default_message in text
    failure = instance.audit_entries.get()
    assert failure.action == AuditEntry.Action.REMOTE_ERROR
    assert failure.outcome == AuditEntry.Outcome.FAILURE
    assert failure.request_id  # the sandbox's requestId, for Cloud Elements support


# --- What is sent, and what is believed -----------------------------------------------------------


def test_the_switch_sends_exactly_the_documented_patch(client, operator, make_instance, sent):
    instance = make_instance(status=ACTIVE, remote_id=4107)
    WebhookSettings.objects.filter(instance=instance).update(callback_url=RECEIVER_URL)
    client.force_login(operator)

    client.post(events_url(instance), {"enabled": "on"})
    client.post(events_url(instance), {"enabled": "off"})

    assert sent == [
        (4107, {"configuration": {"event.notification.enabled": True}}),
        (4107, {"configuration": {"event.notification.enabled": False}}),
    ]


def test_a_toggle_without_an_answer_takes_cloud_elements_word_for_the_result(
    client, operator, make_instance, monkeypatch
):
    instance = make_instance("Archive", status=ACTIVE, remote_id=5100)
    WebhookSettings.objects.filter(instance=instance).update(callback_url=RECEIVER_URL)

    def update_instance(instance_id: int, changes: dict) -> Instance:
        raise CloudElementsServerError(request_id="req-5100")  # applied, but the answer is lost

    def get_instance(instance_id: int) -> Instance:
        return Instance(id=instance_id, name="Archive", element_key="dropbox", events_enabled=True)

    monkeypatch.setattr(cloud_elements, "update_instance", update_instance)
    monkeypatch.setattr(cloud_elements, "get_instance", get_instance)
    client.force_login(operator)

    response = client.post(events_url(instance), {"enabled": "on"}, follow=True)

    assert reload(instance).webhook.enabled is True
    [(level, text)] = shown_messages(response)
    assert level == "error"
    assert text.startswith("Archive: events are now on (read back from Cloud Elements).")


# --- Where the switch leads back to ---------------------------------------------------------------


def test_the_switch_returns_to_the_list_page_it_was_pressed_on(
    client, operator, make_instance, sent
):
    instance = make_instance(status=ACTIVE, remote_id=4101)
    client.force_login(operator)
    here = reverse("instances:index") + "?status=active&page=1"

    response = client.post(events_url(instance), {"enabled": "on", "next": here})

    assert response.status_code == 302
    assert response["Location"] == here
    assert len(sent) == 1


@pytest.mark.parametrize(
    "next_url", ["https://evil.example/instances/", "//evil.example/", "https:evil.example"]
)
def test_the_switch_ignores_a_next_page_on_another_site(
    client, operator, make_instance, sent, next_url
):
    instance = make_instance(status=ACTIVE, remote_id=4102)
    client.force_login(operator)

    response = client.post(events_url(instance), {"enabled": "on", "next": next_url})

    assert response.status_code == 302
    assert response["Location"] == instance.get_absolute_url()
