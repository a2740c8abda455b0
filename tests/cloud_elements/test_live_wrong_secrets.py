"""Wrong user or organization secrets: the sandbox answers 401, the client an authentication error.

The sandbox refuses a request with the wrong secrets; when Cloud Elements' secret changes after
the client built its header (a regenerated user secret), the client raises an authentication
error that names the setting to fix.
"""

from __future__ import annotations

import pytest
import requests
from requests.adapters import HTTPAdapter

from instances.cloud_elements import client as cloud_elements
from instances.cloud_elements.client import (
    CloudElementsAuthenticationError,
)

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_sandbox_answers_401_to_wrong_secrets(sandbox_site):
    answer = requests.get(
        cloud_elements.base_url() + "/instances",
        headers={"Authorization": "User wrong-user-secret, Organization wrong-org-secret"},
        timeout=10,
    )

    assert answer.status_code == 401
    assert answer.json()["requestId"]
    assert "secret" in answer.json()["message"]


def test_it_raises_an_authentication_error_when_cloud_elements_rejects_the_secrets(
    sandbox_site, settings, monkeypatch
):
    # The client and the sandbox read the same setting in one process, so changing it up front
    # would change both sides and they would still agree. Instead the remote side's secret is
    # "regenerated" after the client has built its header from the configured value and before
    # the request leaves, as when someone regenerates the user secret in Cloud Elements. What
    # the client sends is left untouched: the test records it to prove that.
    configured = settings.CLOUD_ELEMENTS_USER_SECRET
    sent: list[str] = []
    real_send = HTTPAdapter.send

    def send_after_remote_rotation(adapter, request, **kwargs):
        sent.append(request.headers["Authorization"])
        settings.CLOUD_ELEMENTS_USER_SECRET = "regenerated-in-cloud-elements"
        return real_send(adapter, request, **kwargs)

    monkeypatch.setattr(HTTPAdapter, "send", send_after_remote_rotation)

    with pytest.raises(CloudElementsAuthenticationError) as caught:
        cloud_elements.list_instances()

    assert sent == [
        f"User {configured}, Organization {settings.CLOUD_ELEMENTS_ORGANIZATION_SECRET}"
    ]
    assert caught.value.status == 401
    assert caught.value.request_id
    assert "secret" in caught.value.remote_message
    assert "CLOUD_ELEMENTS_USER_SECRET" in caught.value.message
