"""Connecting an instance over real HTTP logs each call, and no secret.

The whole flow (consent URL, consent, create) is logged call by call, and neither the app secret,
the signature key, the user and organization secrets, the instance token nor the code appears in
the log.
"""

from __future__ import annotations

import logging

import pytest

from instances.cloud_elements import client as cloud_elements
from tests.cloud_elements.live_flow import (
    APP_SECRET,
    SIGNATURE_KEY,
    consent,
    oauth_url,
    payload,
)

pytestmark = pytest.mark.django_db(transaction=True)


def test_it_logs_no_secret_while_connecting_an_instance(sandbox_site, settings, caplog):
    # caplog sees each record after the console handler's RedactSecretsFilter has rewritten it
    # in place, so this checks what the production log would hold; the token and the keys
    # below match none of the filter's patterns, so for them it checks what is logged at all.
    caplog.set_level(logging.DEBUG)

    url = oauth_url()
    code = consent(url.oauth_url, settings)["code"]
    instance = cloud_elements.create_instance(payload(code))

    assert "cloud_elements GET /elements/dropbox/oauth/url -> 200" in caplog.text
    assert "cloud_elements POST /instances -> 200" in caplog.text
    for secret in (
        APP_SECRET,
        SIGNATURE_KEY,
        settings.CLOUD_ELEMENTS_USER_SECRET,
        settings.CLOUD_ELEMENTS_ORGANIZATION_SECRET,
        instance.token,
        code,
    ):
        assert secret not in caplog.text
