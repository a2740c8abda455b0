"""The sandbox's `GET /elements/{key}/oauth/url`: the consent URL Cloud Elements documents.

It answers the element and a consent URL carrying exactly the documented query (never the app
secret), refuses a missing parameter or an unknown element in the documented error shape, and,
playing the Dropbox App Console, refuses a second secret for a registered app key (the sandbox's
choice; see tests/sandbox/contract.py for how such choices are marked).
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from tests.sandbox.contract import (
    APP_KEY,
    APP_SECRET,
    CALLBACK_URL,
    STATE,
    assert_error,
    consent_url,
    get,
    get_oauth_url,
)

pytestmark = pytest.mark.django_db


def test_oauth_url_returns_the_element_and_a_consent_url_with_the_documented_query(client):
    response = get_oauth_url(client)

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"element", "oauthUrl"}
    assert body["element"] == "dropbox"
    url = urlsplit(body["oauthUrl"])
    assert url.scheme in {"http", "https"} and url.netloc
    assert parse_qs(url.query, keep_blank_values=True) == {
        "response_type": ["code"],
        "client_id": [APP_KEY],
        "redirect_uri": [CALLBACK_URL],
        "state": [STATE],
    }


def test_oauth_url_carries_a_state_with_reserved_characters_unchanged(client):
    state = "a b&c=d/é?#%"

    url = consent_url(client, state=state)

    assert parse_qs(urlsplit(url).query)["state"] == [state]


def test_oauth_url_never_carries_the_app_secret(client):
    assert APP_SECRET not in consent_url(client)


@pytest.mark.parametrize("parameter", ["apiKey", "apiSecret", "callbackUrl"])
def test_oauth_url_rejects_a_missing_parameter_naming_it(client, parameter):
    """400 is "often due to a missing request parameter" (section 4, Errors).

    The reference does not say that apiKey, apiSecret and callbackUrl are required; Dropbox
    cannot work without them, so refusing them is the sandbox's choice, as is naming them.
    """
    response = get_oauth_url(client, **{parameter: None})

    body = assert_error(response, 400, naming=parameter)
    assert "providerMessage" not in body


def test_oauth_url_works_without_the_optional_state(client):
    """`state` is "a customizable identifier" (section 3): optional, so its absence is fine."""
    response = get_oauth_url(client, state=None)

    assert response.status_code == 200, response.content
    query = parse_qs(urlsplit(response.json()["oauthUrl"]).query, keep_blank_values=True)
    assert "state" not in query
    assert query["client_id"] == [APP_KEY]


def test_oauth_url_answers_404_for_an_unknown_element(client):
    response = get_oauth_url(client, element="no-such-element")

    assert_error(response, 404)


def test_sandbox_choice_a_different_secret_for_a_registered_app_is_refused(client):
    """The sandbox plays the Dropbox App Console: the first secret seen for an app key sticks.

    Cloud Elements documents nothing of this; `providerMessage` "invalid_client" is the
    sandbox's choice (Dropbox's OAuth error name).
    """
    params = {"apiKey": APP_KEY, "apiSecret": APP_SECRET, "callbackUrl": CALLBACK_URL}
    params["state"] = STATE
    assert get(client, "/elements/dropbox/oauth/url", params).status_code == 200
    response = get(client, "/elements/dropbox/oauth/url", {**params, "apiSecret": "other"})
    assert_error(response, 400)
    assert response.json()["providerMessage"] == "invalid_client"
