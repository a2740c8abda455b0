"""The instance form refuses invalid input with a 400 and field-level messages.

Nothing is then saved, nor sent to Cloud Elements (faked at the client's seam, recording every
call): the fields each authentication type needs, absolute http(s) callback URLs (plain http only
for this machine), tags, a name an active instance of the element already has, a secret that must
be typed again, and a form submitted twice.
"""

from __future__ import annotations

import re

import pytest

from instances.forms import InstanceForm
from instances.models import ElementInstance
from tests.instances.form_helpers import (
    CLIENT_SECRET,
    NEW,
    assert_rejected,
    text,
    valid_data,
    value_of,
)

pytestmark = pytest.mark.usefixtures("fast_test_setup")


SIGNATURE_KEY = "signature-key-never-echoed-8910"


@pytest.mark.parametrize("field", ["oauth_callback_url", "oauth_api_key", "oauth_api_secret"])
def test_oauth2_needs_the_client_id_secret_and_callback_url(operator_client, remote_calls, field):
    response = operator_client.post(NEW, valid_data(**{field: ""}))
    assert_rejected(response, field, "required for oauth2 authentication", remote_calls)


def test_api_key_authentication_needs_the_api_key(operator_client, remote_calls):
    data = valid_data(
        authentication_type="apiKey",
        oauth_callback_url="",
        oauth_api_key="",
        oauth_api_secret="",
        api_key="",
    )
    response = operator_client.post(NEW, data)
    assert_rejected(response, "api_key", "required for apiKey authentication", remote_calls)
    # The OAuth fields belong to oauth2 only.
    assert set(response.context["form"].errors) == {"api_key"}


def test_events_enabled_needs_a_callback_url(operator_client, remote_calls):
    response = operator_client.post(NEW, valid_data(events_enabled="on", event_callback_url=""))
    assert_rejected(response, "event_callback_url", "needs a URL to send events to", remote_calls)


@pytest.mark.parametrize("field", ["oauth_callback_url", "event_callback_url"])
@pytest.mark.parametrize(
    "url",
    [
        "/instances/oauth/callback/",
        "dashboard.example.com/hook",
        "ftp://dashboard.example.com/hook",
        "javascript:alert(1)",
        "https://",
    ],
)
def test_a_url_that_is_not_absolute_http_is_rejected(operator_client, remote_calls, field, url):
    response = operator_client.post(NEW, valid_data(events_enabled="on", **{field: url}))
    assert_rejected(response, field, "Enter an absolute https:// address", remote_calls)


@pytest.mark.parametrize("field", ["oauth_callback_url", "event_callback_url"])
def test_plain_http_is_rejected_for_another_machine(operator_client, remote_calls, field):
    data = valid_data(events_enabled="on", **{field: "http://example.com"})
    response = operator_client.post(NEW, data)
    assert_rejected(response, field, "Plain http:// is for this machine only", remote_calls)


@pytest.mark.parametrize("field", ["oauth_callback_url", "event_callback_url"])
@pytest.mark.parametrize(
    "url", ["http://localhost:8000/x", "http://127.0.0.1/x", "https://example.com/x"]
)
def test_local_http_and_any_https_url_are_accepted(operator_client, remote_calls, field, url):
    data = valid_data(events_enabled="on", event_callback_url="https://example.com/hook")
    data[field] = url
    response = operator_client.post(NEW, data)

    assert response.status_code == 302
    instance = ElementInstance.objects.select_related("webhook").get()
    saved = {
        "oauth_callback_url": instance.oauth_callback_url,
        "event_callback_url": instance.webhook.callback_url,
    }
    assert saved[field] == url


def test_tags_are_split_trimmed_and_deduplicated_whatever_their_case(db):
    form = InstanceForm(valid_data(tags="a, b\nA , c"))
    assert form.is_valid(), form.errors
    assert form.cleaned_data["tags"] == ["a", "b", "c"]


@pytest.mark.parametrize(
    ("field", "typed", "stored"),
    [
        ("name", "Finance <b>Dropbox</b>", "“Finance Dropbox”"),
        ("name", "<img src=x onerror=alert(1)>", "nothing"),
        ("tags", "eu, <i>finance</i>", "“finance”"),
    ],
)
def test_markup_that_cloud_elements_would_strip_is_refused_before_sending(
    operator_client, remote_calls, field, typed, stored
):
    # Cloud Elements keeps the text and drops the markup: sent as typed, the instance would be
    # named differently there than here, until a sync renamed it.
    response = operator_client.post(NEW, valid_data(**{field: typed}))

    assert_rejected(response, field, "Cloud Elements removes markup from", remote_calls)
    assert any(f"would be stored as {stored}" in e for e in response.context["form"].errors[field])


def test_the_edit_form_refuses_markup_too(db):
    from instances.forms import SettingsForm

    form = SettingsForm(
        {"name": "Legal <script>x</script>", "event_callback_url": "https://a.example/"}
    )
    assert not form.is_valid()
    assert "would be stored as “Legal x”" in form.errors["name"][0]


def test_the_saved_instance_carries_the_cleaned_tags(operator_client, remote_calls):
    response = operator_client.post(NEW, valid_data(tags="a, b\nA , c"))
    assert response.status_code == 302
    assert ElementInstance.objects.get().tag_names() == ["a", "b", "c"]


def test_an_active_instance_with_the_same_name_is_flagged(
    operator_client, remote_calls, make_instance
):
    make_instance("Finance Dropbox", status=ElementInstance.Status.ACTIVE, remote_id=58992)
    response = operator_client.post(NEW, valid_data(name="  FINANCE   dropbox "))
    assert_rejected(response, "name", "already exists", remote_calls, saved=1)


@pytest.mark.parametrize(
    "existing",
    [
        {"status": ElementInstance.Status.FAILED},
        {"status": ElementInstance.Status.DELETED, "remote_id": 58992},
        {"status": ElementInstance.Status.ACTIVE, "remote_id": 58992, "element_key": "box"},
    ],
    ids=["failed", "deleted", "other-element"],
)
def test_a_name_is_free_unless_an_active_instance_of_the_element_has_it(
    operator_client, remote_calls, make_instance, existing
):
    make_instance("Finance Dropbox", **existing)
    response = operator_client.post(NEW, valid_data(name="finance dropbox"))
    assert response.status_code == 302
    assert ElementInstance.objects.count() == 2


def test_a_submitted_secret_is_never_sent_back_and_must_be_typed_again(
    operator_client, remote_calls
):
    data = valid_data(
        oauth_callback_url="",
        events_enabled="on",
        event_callback_url="https://example.com/hook",
        signature_key=SIGNATURE_KEY,
    )
    response = operator_client.post(NEW, data)

    assert response.status_code == 400
    assert CLIENT_SECRET not in response.text
    assert SIGNATURE_KEY not in response.text
    retype = re.search(r'<p class="errornote retype">(.*?)</p>', response.text, re.S)
    assert retype, "the page does not ask to type the secrets again"
    assert "oauth.api.secret" in text(retype.group(1))
    assert "Callback Notification Signature Key" in text(retype.group(1))
    assert "again" in text(retype.group(1))
    # What is not secret is kept, so that nothing typed is lost.
    assert value_of(response.text, "name") == "Finance Dropbox"
    assert value_of(response.text, "oauth_api_key") == "app-key-123"
    assert value_of(response.text, "instance_uuid") == data["instance_uuid"]
    assert remote_calls == []


def test_a_form_can_only_be_submitted_once(operator_client, remote_calls):
    data = valid_data()
    assert operator_client.post(NEW, data).status_code == 302
    response = operator_client.post(NEW, data)
    assert response.status_code == 400
    assert "already submitted" in str(response.context["form"].errors["instance_uuid"])
    assert ElementInstance.objects.count() == 1
    assert len(remote_calls) == 1
