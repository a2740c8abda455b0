"""Creating an instance with apiKey authentication: no consent screen, straight to Cloud Elements.

The form posts `POST /instances` at once, with the API key under its parameter and no provider
data, keeps the key encrypted, and announces the result or Cloud Elements' refusal. Cloud
Elements is faked at the client's seam (see consent_helpers.py).
"""

from __future__ import annotations

import pytest

from instances import parameters
from instances.cloud_elements import client as cloud_elements
from instances.models import ElementInstance, OAuthState
from tests.instances.consent_helpers import NEW, Status, form_data, raw_column

pytestmark = pytest.mark.usefixtures("fast_test_setup")


def test_api_key_authentication_creates_the_instance_without_a_consent(operator_client, remote):
    data = form_data(
        authentication_type="apiKey",
        api_key="the-api-key-0123456789",
        oauth_callback_url="",
        oauth_api_key="",
        oauth_api_secret="",
    )

    response = operator_client.post(NEW, data)

    instance = ElementInstance.objects.get(uuid=data["instance_uuid"])
    assert response.status_code == 302
    assert response["Location"] == instance.get_absolute_url()
    assert remote.oauth_calls == []
    assert not OAuthState.objects.exists()
    (payload,) = remote.payloads
    assert "providerData" not in payload
    assert payload["configuration"]["authentication.type"] == "apiKey"
    assert payload["configuration"][parameters.API_KEY_PARAMETER] == "the-api-key-0123456789"
    assert instance.status == Status.ACTIVE
    assert instance.remote_id == 58991
    assert "the-api-key" not in raw_column(ElementInstance, "api_key", instance.pk)


def api_key_form() -> dict:
    return form_data(
        authentication_type="apiKey",
        api_key="the-api-key-0123456789",
        oauth_callback_url="",
        oauth_api_key="",
        oauth_api_secret="",
    )


def test_an_api_key_instance_is_announced_with_its_id(operator_client, remote):
    response = operator_client.post(NEW, api_key_form(), follow=True)

    shown = [(m.level_tag, m.message) for m in response.context["messages"]]
    assert shown == [
        ("success", "“Finance Dropbox” was created at Cloud Elements (Cloud Elements id 58991).")
    ]


def test_an_api_key_instance_cloud_elements_refused_says_why(operator_client, remote, monkeypatch):
    refusal = cloud_elements.CloudElementsBadRequestError(
        "Cloud Elements rejected the request. Provider says: invalid api key"
    )
    remote.fail_create(monkeypatch, refusal)

    response = operator_client.post(NEW, api_key_form(), follow=True)

    shown = [(m.level_tag, m.message) for m in response.context["messages"]]
    assert shown == [("error", refusal.message)]
    assert ElementInstance.objects.get().status == Status.FAILED
