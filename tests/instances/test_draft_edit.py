"""A draft or failed instance can be fixed: every parameter, saved here only, then Retry.

Cloud Elements does not have such an instance, so an edit never calls it; secrets are re-typed
(never shown), and a blank secret keeps the stored one.
"""

from __future__ import annotations

import pytest
from django.urls import reverse

from instances import drafts, services
from instances.cloud_elements import client as cloud_elements
from instances.models import AuditEntry, ElementInstance

Status = ElementInstance.Status
SECRET = "app-secret-very-long-4567"
API_KEY = "api-key-long-enough-8901"
SIGNATURE_KEY = "signature-key-long-enough-2345"


def url(name: str, instance: ElementInstance) -> str:
    return reverse(f"instances:{name}", args=[instance.uuid])


@pytest.fixture
def failed(make_instance) -> ElementInstance:
    instance = make_instance(
        "Broken Dropbox",
        tags=["finance"],
        status=Status.FAILED,
        oauth_api_secret=SECRET,
        api_key=API_KEY,
        last_error="Failed to get the OAuth URL: the apiSecret does not match this apiKey's app.",
    )
    webhook = instance.webhook
    webhook.enabled = True
    webhook.callback_url = f"http://127.0.0.1:8000/webhooks/{instance.uuid}/"
    webhook.signature_key = SIGNATURE_KEY
    webhook.save()
    return ElementInstance.objects.select_related("webhook").get(pk=instance.pk)


@pytest.fixture
def no_remote_calls(monkeypatch) -> None:
    """Fail the test if anything is sent to Cloud Elements."""

    def refuse(*args, **kwargs):
        raise AssertionError("an edit of a draft must not call Cloud Elements")

    for name in ("create_instance", "update_instance", "get_oauth_url", "get_instance"):
        monkeypatch.setattr(cloud_elements, name, refuse)


def draft_form(instance: ElementInstance, **changes) -> dict:
    data = {
        "name": instance.name,
        "element_key": instance.element_key,
        "authentication_type": instance.authentication_type,
        "oauth_callback_url": instance.oauth_callback_url,
        "oauth_api_key": instance.oauth_api_key,
        "oauth_api_secret": "",
        "api_key": "",
        "events_enabled": "on" if instance.webhook.enabled else "",
        "event_callback_url": instance.webhook.callback_url,
        "signature_key": "",
        "tags": ", ".join(instance.tag_names()),
    }
    return {**data, **changes}


def reload(instance: ElementInstance) -> ElementInstance:
    return ElementInstance.objects.select_related("webhook").get(pk=instance.pk)


@pytest.mark.parametrize("status", [Status.DRAFT, Status.FAILED])
def test_a_draft_or_failed_instance_offers_edit(client, operator, make_instance, status):
    instance = make_instance(status=status)
    client.force_login(operator)
    html = client.get(instance.get_absolute_url()).text
    assert f'href="{url("edit", instance)}"' in html


def test_the_edit_page_shows_every_parameter_but_never_a_secret(client, operator, failed):
    client.force_login(operator)
    response = client.get(url("edit", failed))
    assert response.status_code == 200
    html = response.text
    for name in (
        "name",
        "element_key",
        "authentication_type",
        "oauth_callback_url",
        "oauth_api_key",
        "oauth_api_secret",
        "api_key",
        "events_enabled",
        "event_callback_url",
        "signature_key",
        "tags",
    ):
        assert f'name="{name}"' in html, name
    assert 'value="Broken Dropbox"' in html
    assert 'value="app-key-123"' in html
    for secret in (SECRET, API_KEY, SIGNATURE_KEY):
        assert secret[:-4] not in html
    assert "••••4567" in html and "••••2345" in html  # masked, so the operator knows
    assert "gAAAAA" not in html
    assert "PATCH" not in html  # not the active instance's settings page


def test_blank_secrets_keep_the_stored_ones(client, operator, failed, no_remote_calls):
    client.force_login(operator)
    response = client.post(url("edit", failed), draft_form(failed, name="Fixed Dropbox"))
    assert response.status_code == 302, response.text
    assert response["Location"] == failed.get_absolute_url()
    instance = reload(failed)
    assert instance.name == "Fixed Dropbox"
    assert instance.oauth_api_secret == SECRET
    assert instance.api_key == API_KEY
    assert instance.webhook.signature_key == SIGNATURE_KEY
    assert instance.status == Status.FAILED and instance.remote_id is None


def test_every_parameter_can_be_changed_and_the_change_is_audited(
    client, operator, failed, no_remote_calls
):
    client.force_login(operator)
    response = client.post(
        url("edit", failed),
        draft_form(
            failed,
            name="Fixed Dropbox",
            element_key="dropboxbusiness",
            oauth_callback_url="https://dash.example.com/instances/oauth/callback/",
            oauth_api_key="new-app-key",
            oauth_api_secret="the-right-secret-0001",
            events_enabled="",
            event_callback_url="https://hooks.example.com/in/",
            signature_key="a-brand-new-signature-key-000",
            tags="eu\nq3",
        ),
    )
    assert response.status_code == 302, response.text
    instance = reload(failed)
    assert instance.name == "Fixed Dropbox"
    assert instance.element_key == "dropboxbusiness"
    assert instance.oauth_callback_url == "https://dash.example.com/instances/oauth/callback/"
    assert instance.oauth_api_key == "new-app-key"
    assert instance.oauth_api_secret == "the-right-secret-0001"
    assert instance.webhook.enabled is False
    assert instance.webhook.callback_url == "https://hooks.example.com/in/"
    assert instance.webhook.signature_key == "a-brand-new-signature-key-000"
    assert sorted(instance.tag_names()) == ["eu", "q3"]
    entry = instance.audit_entries.get(action=AuditEntry.Action.UPDATED)
    assert entry.actor == operator
    assert "oauth.api.secret" in entry.detail and "tags" in entry.detail
    assert "the-right-secret" not in entry.detail
    assert "a-brand-new-signature-key" not in entry.detail


def test_an_api_key_instance_can_be_fixed(client, operator, failed, no_remote_calls):
    client.force_login(operator)
    data = draft_form(failed, authentication_type="apiKey", api_key="a-new-api-key-0000")
    assert client.post(url("edit", failed), data).status_code == 302
    instance = reload(failed)
    assert instance.authentication_type == "apiKey"
    assert instance.api_key == "a-new-api-key-0000"


def test_bad_input_answers_400_and_saves_nothing(client, operator, failed, no_remote_calls):
    client.force_login(operator)
    response = client.post(
        url("edit", failed),
        draft_form(failed, name="Fixed", event_callback_url="ftp://nope", oauth_api_secret="x"),
    )
    assert response.status_code == 400
    assert "type oauth.api.secret again, or leave blank" in response.text
    assert reload(failed).name == "Broken Dropbox"
    assert not failed.audit_entries.filter(action=AuditEntry.Action.UPDATED).exists()


def test_an_active_instance_still_uses_the_settings_form(client, operator, make_instance):
    instance = make_instance("Live", status=Status.ACTIVE, remote_id=7)
    client.force_login(operator)
    html = client.get(url("edit", instance)).text
    assert "PATCH /instances/7" in html
    assert 'name="new_signature_key"' in html
    assert 'name="oauth_api_secret"' not in html
    assert 'name="element_key"' not in html


def test_a_view_only_user_cannot_edit_a_draft(client, viewer, failed, no_remote_calls):
    client.force_login(viewer)
    assert client.get(url("edit", failed)).status_code == 403
    assert client.post(url("edit", failed), draft_form(failed, name="Hijacked")).status_code == 403
    assert reload(failed).name == "Broken Dropbox"


def test_an_instance_claimed_by_a_retry_meanwhile_is_not_changed(failed, operator):
    ElementInstance.objects.filter(pk=failed.pk).update(status=Status.UNKNOWN)
    with pytest.raises(services.ActionError):
        drafts.update_draft(instance=failed, data={"name": "Late"}, actor=operator)
    assert reload(failed).name == "Broken Dropbox"
