"""When Cloud Elements gets a change but its answer is lost, the dashboard must not guess."""

from __future__ import annotations

import pytest

from instances import consent, services
from instances.cloud_elements import client as ce
from instances.models import ElementInstance

ACTIVE = ElementInstance.Status.ACTIVE


@pytest.fixture
def live(make_instance):
    instance = make_instance("Archive", status=ACTIVE, remote_id=6100)
    instance.webhook.signature_key = "old-signature-key-0001"
    instance.webhook.callback_url = "https://dash.example.com/webhooks/x/"
    instance.webhook.save()
    return instance


def remote(**fields) -> ce.Instance:
    return ce.Instance(**{"id": 6100, "name": "Archive", "element_key": "dropbox", **fields})


def test_an_unanswered_key_change_accepts_both_keys(live, operator, monkeypatch):
    def lost(instance_id, changes):
        raise ce.CloudElementsTimeoutError()

    monkeypatch.setattr(ce, "update_instance", lost)
    monkeypatch.setattr(ce, "get_instance", lambda instance_id: remote(tags=["kept"]))

    with pytest.raises(ce.CloudElementsTimeoutError):
        services.update_settings(
            instance=live,
            name="Archive",
            tags=[],
            callback_url=live.webhook.callback_url,
            signature_key="new-signature-key-0002",
            actor=operator,
        )

    webhook = ElementInstance.objects.get(pk=live.pk).webhook
    assert webhook.accepted_keys() == ["new-signature-key-0002", "old-signature-key-0001"]
    assert ElementInstance.objects.get(pk=live.pk).tag_names() == ["kept"]


def test_a_definite_refusal_changes_no_key(live, operator, monkeypatch):
    def refused(instance_id, changes):
        raise ce.CloudElementsBadRequestError("no")

    monkeypatch.setattr(ce, "update_instance", refused)
    with pytest.raises(ce.CloudElementsBadRequestError):
        services.update_settings(
            instance=live,
            name="Archive",
            tags=[],
            callback_url=live.webhook.callback_url,
            signature_key="new-signature-key-0002",
            actor=operator,
        )
    webhook = ElementInstance.objects.get(pk=live.pk).webhook
    assert webhook.accepted_keys() == ["old-signature-key-0001"]


def test_a_sync_never_brings_back_an_instance_deleted_meanwhile(live, operator, monkeypatch):
    def deleted_while_reading(instance_id):
        ElementInstance.objects.filter(pk=live.pk).update(status=ElementInstance.Status.DELETED)
        return remote(name="Archive renamed")

    monkeypatch.setattr(ce, "get_instance", deleted_while_reading)
    services.sync(instance=live, actor=operator)

    fresh = ElementInstance.objects.get(pk=live.pk)
    assert fresh.status == ElementInstance.Status.DELETED
    assert fresh.name == "Archive renamed"


def test_sync_all_confirms_an_absence_before_flagging(live, operator, monkeypatch):
    monkeypatch.setattr(ce, "list_instances", lambda **kwargs: [])  # e.g. an unseen next page
    monkeypatch.setattr(ce, "get_instance", lambda instance_id: remote())

    counts = services.sync_all(actor=operator)

    assert counts == {"synced": 1, "missing": 0, "failed": 0}
    assert ElementInstance.objects.get(pk=live.pk).remote_missing is False


def test_a_form_submitted_twice_at_once_reports_instead_of_failing(operator, monkeypatch):
    data = {
        "instance_uuid": "0b7c3f7e-54a4-4f53-8a4c-1a2b3c4d5e6f",
        "name": "Twice",
        "element_key": "dropbox",
        "authentication_type": "oauth2",
        "oauth_api_key": "k",
        "oauth_api_secret": "s",
        "oauth_callback_url": "http://127.0.0.1:8000/cb/",
    }
    consent.create_draft(data=data, actor=operator)
    with pytest.raises(services.ActionError, match="already submitted"):
        consent.create_draft(data=data, actor=operator)
    assert ElementInstance.objects.filter(name="Twice").count() == 1


def test_a_non_ascii_digit_search_is_not_a_server_error(client, operator):
    client.force_login(operator)
    assert client.get("/instances/", {"q": "²"}).status_code == 200
