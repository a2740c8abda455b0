"""The sandbox's Dropbox consent screen: Allow and Deny, redirecting as Dropbox's OAuth does.

The page offers Allow and Deny for the app's client id; it refuses an unregistered redirect URI
or an unknown client id without redirecting anywhere; Allow redirects to the registered URI with
a fresh code and the state (keeping the URI's own query), and Deny with `access_denied`.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from instances.sandbox.models import SandboxAuthCode
from tests.sandbox.contract import (
    APP_KEY,
    APP_SECRET,
    CALLBACK_URL,
    STATE,
    ConsentPage,
    consent_url,
    decide,
    new_code,
    redirect_query,
    with_query,
)

pytestmark = pytest.mark.django_db


def test_the_consent_page_offers_allow_and_deny_for_the_apps_client_id(client):
    response = client.get(consent_url(client))

    assert response.status_code == 200
    page = ConsentPage(response.content.decode())
    assert sorted(button["label"] for button in page.buttons) == ["Allow", "Deny"]
    assert APP_KEY in response.content.decode()
    assert APP_SECRET not in response.content.decode()


def test_the_consent_page_refuses_an_unregistered_redirect_uri_without_redirecting(client):
    url = with_query(consent_url(client), redirect_uri="https://evil.example/steal")

    shown = client.get(url)
    submitted = client.post(
        urlsplit(url).path, {**parse_qs(urlsplit(url).query), "decision": "allow"}
    )

    for response in (shown, submitted):
        assert response.status_code == 400
        assert not response.has_header("Location")
        assert ConsentPage(response.content.decode()).buttons == []
    assert not SandboxAuthCode.objects.exists()


def test_the_consent_page_refuses_an_unknown_client_id_without_redirecting(client):
    url = with_query(consent_url(client), client_id="no-such-app")

    shown = client.get(url)
    submitted = client.post(
        urlsplit(url).path, {**parse_qs(urlsplit(url).query), "decision": "allow"}
    )

    for response in (shown, submitted):
        assert response.status_code == 400
        assert not response.has_header("Location")
    assert not SandboxAuthCode.objects.exists()


def test_allow_redirects_to_the_redirect_uri_with_a_code_and_the_state(client):
    response = decide(client, "Allow")

    assert response.status_code == 302
    location = urlsplit(response["Location"])
    expected = urlsplit(CALLBACK_URL)
    assert (location.scheme, location.netloc, location.path) == (
        expected.scheme,
        expected.netloc,
        expected.path,
    )
    query = redirect_query(response)
    assert set(query) == {"code", "state"}
    assert query["code"][0]
    assert query["state"] == [STATE]


def test_allow_keeps_the_query_string_already_in_the_redirect_uri(client):
    callback = "http://127.0.0.1:8000/callback/?next=%2Fdash&tenant=7"

    response = decide(client, "Allow", callbackUrl=callback)

    assert response.status_code == 302
    assert response["Location"].startswith("http://127.0.0.1:8000/callback/?")
    query = redirect_query(response)
    assert query["next"] == ["/dash"]
    assert query["tenant"] == ["7"]
    assert query["code"][0]
    assert query["state"] == [STATE]


def test_allow_issues_a_different_code_each_time(client):
    assert new_code(client) != new_code(client)


def test_deny_redirects_with_access_denied_a_description_and_the_state(client):
    response = decide(client, "Deny")

    assert response.status_code == 302
    assert response["Location"].startswith(CALLBACK_URL + "?")
    query = redirect_query(response)
    assert "code" not in query
    assert query["error"] == ["access_denied"]
    assert query["error_description"][0].strip()
    assert query["state"] == [STATE]
    assert not SandboxAuthCode.objects.exists()
