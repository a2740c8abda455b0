"""The client's consent URL against the sandbox over real HTTP, and the consent screen it leads to.

`get_oauth_url` answers a consent URL with the OAuth parameters and never the app secret, and
maps a missing callback URL or an unknown element to the documented errors; the consent screen,
played with plain `requests` as a browser would (live_flow.py), redirects back with a code and
the state on Allow, and with `access_denied` on Deny.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from instances.cloud_elements.client import (
    CloudElementsBadRequestError,
    CloudElementsNotFoundError,
    OAuthUrl,
)
from tests.cloud_elements.live_flow import (
    APP_KEY,
    APP_SECRET,
    CALLBACK_URL,
    STATE,
    consent,
    oauth_url,
)

pytestmark = pytest.mark.django_db(transaction=True)


def test_it_returns_a_consent_url_carrying_the_oauth_parameters(sandbox_site):
    result = oauth_url()

    assert isinstance(result, OAuthUrl)
    assert result.element == "dropbox"
    query = parse_qs(urlsplit(result.oauth_url).query)
    assert query == {
        "response_type": ["code"],
        "client_id": [APP_KEY],
        "redirect_uri": [CALLBACK_URL],
        "state": [STATE],
    }


def test_it_never_puts_the_app_secret_in_the_consent_url(sandbox_site):
    assert APP_SECRET not in oauth_url().oauth_url


def test_it_rejects_an_oauth_url_request_without_a_callback_url(sandbox_site):
    with pytest.raises(CloudElementsBadRequestError) as caught:
        oauth_url(callback_url="")

    assert caught.value.status == 400
    assert caught.value.request_id
    assert "callbackUrl" in caught.value.remote_message
    assert "callbackUrl" in caught.value.message


def test_it_reports_an_unknown_element_as_not_found(sandbox_site):
    with pytest.raises(CloudElementsNotFoundError) as caught:
        oauth_url(element_key="nosuchelement")

    assert caught.value.status == 404
    assert caught.value.request_id


# --- The consent screen ----------------------------------------------------------------------


def test_the_consent_screen_redirects_back_with_a_code_and_the_state(sandbox_site, settings):
    query = consent(oauth_url().oauth_url, settings)

    assert set(query) == {"code", "state"}
    assert query["state"] == STATE
    assert len(query["code"]) >= 20


def test_the_consent_screen_redirects_back_with_access_denied_on_deny(sandbox_site, settings):
    query = consent(oauth_url().oauth_url, settings, decision="deny")

    assert query["error"] == "access_denied"
    assert query["state"] == STATE
    assert "code" not in query
