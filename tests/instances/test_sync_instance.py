"""Syncing one instance from Cloud Elements (`GET /instances/{id}`).

Sync takes the name, tags, events and validity Cloud Elements holds, but never writes its masked
values over the secrets kept here; an instance missing at Cloud Elements is flagged, not deleted,
and loses the flag once found again; a remote error changes nothing. A view-only user can sync
neither one instance nor all. The integration test uses the sandbox over real HTTP; the others
fake one client function at the seam, so that `except CloudElementsError` sees the real class.
"""

from __future__ import annotations

from django.urls import reverse

from instances.cloud_elements import client as cloud_elements
from instances.cloud_elements.client import (
    CloudElementsNotFoundError,
    CloudElementsServerError,
    Instance,
)
from instances.models import AuditEntry
from instances.parameters import MASKED
from tests.instances.lifecycle_helpers import (
    NEW_RECEIVER,
    OLD_KEY,
    RECEIVER_URL,
    Action,
    Status,
    create_remote_instance,
    live,
    reload,
    shown_messages,
    url,
)


def test_sync_takes_name_tags_events_and_validity_from_cloud_elements(
    client, operator, active, monkeypatch
):
    remote = Instance(
        id=7301,
        name="Marketing Dropbox (renamed)",
        element_key="dropbox",
        tags=["emea"],
        configuration={
            "event.notification.enabled": False,
            "event.notification.callback.url": NEW_RECEIVER,
        },
        valid=False,
        disabled=True,
        events_enabled=False,
    )
    monkeypatch.setattr(cloud_elements, "get_instance", lambda instance_id: remote)
    client.force_login(operator)

    response = client.post(url("sync", active), follow=True)

    instance = reload(active)
    assert instance.name == "Marketing Dropbox (renamed)"
    assert instance.tag_names() == ["emea"]
    assert instance.webhook.enabled is False
    assert instance.webhook.callback_url == NEW_RECEIVER
    assert (instance.remote_valid, instance.remote_disabled) == (False, True)
    assert instance.synced_at is not None
    assert instance.audit_entries.get().action == Action.SYNCED
    assert shown_messages(response) == [("success", "Synced from Cloud Elements.")]


def test_sync_never_writes_masked_values_over_local_secrets(client, operator, active, monkeypatch):
    remote = Instance(
        id=7301,
        name="Marketing Dropbox",
        element_key="dropbox",
        configuration={
            "oauth.api.secret": MASKED,
            "event.notification.callback.url": MASKED,
            "event.notification.signature.key": MASKED,
        },
        events_enabled=True,
    )
    monkeypatch.setattr(cloud_elements, "get_instance", lambda instance_id: remote)
    client.force_login(operator)

    client.post(url("sync", active))

    instance = reload(active)
    assert instance.oauth_api_secret == "app-secret-very-long-4567"
    assert instance.webhook.signature_key == OLD_KEY
    assert instance.webhook.callback_url == RECEIVER_URL


@live
def test_sync_from_the_sandbox_keeps_local_secrets(
    sandbox_site, settings, client, operator, make_instance
):
    remote = create_remote_instance(
        settings, name="Renamed at Cloud Elements", events_enabled=True, signature_key=OLD_KEY
    )
    instance = make_instance(
        "Old name",
        tags=["old"],
        status=Status.ACTIVE,
        remote_id=remote.id,
        oauth_api_secret="app-secret-local-only-1111",
    )
    webhook = instance.webhook
    webhook.signature_key = OLD_KEY
    webhook.save()
    assert cloud_elements.get_instance(remote.id).configuration["oauth.api.secret"] == MASKED
    client.force_login(operator)

    client.post(url("sync", instance))

    instance = reload(instance)
    assert instance.name == "Renamed at Cloud Elements"
    assert instance.tag_names() == ["marketing"]
    assert instance.webhook.enabled is True
    assert instance.webhook.callback_url == RECEIVER_URL
    assert instance.oauth_api_secret == "app-secret-local-only-1111"
    assert instance.webhook.signature_key == OLD_KEY


def test_an_instance_missing_at_cloud_elements_is_flagged_not_deleted(
    client, operator, active, monkeypatch
):
    def get_instance(instance_id: int) -> Instance:
        raise CloudElementsNotFoundError(status=404)

    monkeypatch.setattr(cloud_elements, "get_instance", get_instance)
    client.force_login(operator)

    client.post(url("sync", active))

    instance = reload(active)
    assert instance.remote_missing is True
    assert instance.status == Status.ACTIVE
    assert instance.remote_id == 7301
    assert "no instance 7301" in instance.last_error
    assert instance.name == "Marketing Dropbox"
    assert instance.webhook.signature_key == OLD_KEY
    failure = instance.audit_entries.get()
    assert (failure.action, failure.outcome) == (Action.SYNCED, AuditEntry.Outcome.FAILURE)
    assert "Deleted at Cloud Elements" in client.get(instance.get_absolute_url()).text


def test_syncing_a_missing_instance_warns_instead_of_reporting_success(
    client, operator, active, monkeypatch
):
    def get_instance(instance_id: int) -> Instance:
        raise CloudElementsNotFoundError(status=404)

    monkeypatch.setattr(cloud_elements, "get_instance", get_instance)
    client.force_login(operator)

    response = client.post(url("sync", active), follow=True)

    levels = [level for level, _ in shown_messages(response)]
    assert "success" not in levels
    assert levels == ["warning"]


def test_an_instance_found_again_loses_its_missing_error(client, operator, active, monkeypatch):
    answers: list = [CloudElementsNotFoundError(status=404)]

    def get_instance(instance_id: int) -> Instance:
        if answers:
            raise answers.pop()
        return Instance(id=instance_id, name="Marketing Dropbox", element_key="dropbox")

    monkeypatch.setattr(cloud_elements, "get_instance", get_instance)
    client.force_login(operator)
    client.post(url("sync", active))
    assert reload(active).remote_missing is True

    client.post(url("sync", active))

    instance = reload(active)
    assert instance.remote_missing is False
    assert instance.last_error == ""


def test_a_remote_error_during_sync_changes_nothing(client, operator, active, monkeypatch):
    def get_instance(instance_id: int) -> Instance:
        raise CloudElementsServerError(status=503)

    monkeypatch.setattr(cloud_elements, "get_instance", get_instance)
    client.force_login(operator)

    response = client.post(url("sync", active), follow=True)

    instance = reload(active)
    assert (instance.remote_missing, instance.synced_at) == (False, None)
    assert shown_messages(response) == [("error", CloudElementsServerError.default_message)]


def test_a_view_only_user_cannot_sync(client, viewer, active, monkeypatch):
    calls: list[int] = []
    monkeypatch.setattr(cloud_elements, "get_instance", calls.append)
    client.force_login(viewer)

    assert client.post(url("sync", active)).status_code == 403
    assert client.post(reverse("instances:sync_all")).status_code == 403
    assert calls == []
