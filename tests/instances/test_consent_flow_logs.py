"""The whole OAuth create, as the product logs it for real, logs no secret.

The real client and the sandbox, over HTTP on 127.0.0.1: the form, Allow on the consent screen,
the callback, a replay and a foreign session. The log names each call, and never the client
secret, the signature key, the code, the state, the instance token or the account's secrets.
"""

from __future__ import annotations

import logging
from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client

from instances.models import ElementInstance
from tests.instances.consent_helpers import (
    CALLBACK,
    CLIENT_SECRET,
    NEW,
    SIGNATURE_KEY,
    Status,
    allow_consent,
    form_data,
    reloaded,
)

pytestmark = pytest.mark.usefixtures("fast_test_setup")


@pytest.mark.django_db(transaction=True)
def test_the_whole_flow_logs_no_secret(sandbox_site, settings, operator, caplog):
    # The real client and the sandbox, over HTTP on 127.0.0.1: what the product logs for real.
    settings.CLOUD_ELEMENTS_BASE_URL = ""
    caplog.set_level(logging.DEBUG)
    client = Client()
    client.force_login(operator)
    data = form_data()

    response = client.post(NEW, data)
    assert response.status_code == 302
    state = parse_qs(urlsplit(response["Location"]).query)["state"][0]
    query = allow_consent(response["Location"], settings)
    assert query["state"] == state
    assert client.get(CALLBACK, query).status_code == 302
    instance = reloaded(ElementInstance.objects.get(uuid=data["instance_uuid"]))
    assert instance.status == Status.ACTIVE
    assert client.get(instance.get_absolute_url()).status_code == 200
    assert client.get(CALLBACK, query).status_code == 400
    stranger = Client()
    stranger.force_login(operator)
    assert stranger.get(CALLBACK, query).status_code == 403

    assert "cloud_elements GET /elements/dropbox/oauth/url -> 200" in caplog.text
    assert "cloud_elements POST /instances -> 200" in caplog.text
    for secret in (
        CLIENT_SECRET,
        SIGNATURE_KEY,
        query["code"],
        state,
        instance.remote_token,
        settings.CLOUD_ELEMENTS_USER_SECRET,
        settings.CLOUD_ELEMENTS_ORGANIZATION_SECRET,
    ):
        assert secret
        assert secret not in caplog.text
