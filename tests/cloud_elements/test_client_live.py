"""The Cloud Elements client against the sandbox, over real HTTP on a live server.

Every public function of `instances.cloud_elements` is called as production calls it, with its
success path and at least one documented failure, and the OAuth consent step in between is
played with plain `requests`, as a browser would play it.
"""

from __future__ import annotations

import html
import logging
import re
from urllib.parse import parse_qs, parse_qsl, urljoin, urlsplit

import pytest
import requests
from requests.adapters import HTTPAdapter

from instances.cloud_elements import client as cloud_elements
from instances.cloud_elements.client import (
    CloudElementsAuthenticationError,
    CloudElementsBadRequestError,
    CloudElementsNotFoundError,
    ConfigurationEntry,
    Instance,
    OAuthUrl,
)
from instances.parameters import MASKED

pytestmark = pytest.mark.django_db(transaction=True)

APP_KEY = "app-key-live-3141"
APP_SECRET = "app-secret-live-very-long-2718281828"
CALLBACK_URL = "http://127.0.0.1:8000/instances/oauth/callback/"
WEBHOOK_URL = "http://127.0.0.1:8000/instances/webhooks/cloud-elements/"
SIGNATURE_KEY = "signature-key-live-1618033988"
STATE = "state-live-0577215664"
HIDDEN_INPUT = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)"')
FORM_ACTION = re.compile(r'<form method="post" action="([^"]+)"')


def oauth_url(**overrides: str) -> OAuthUrl:
    arguments = {
        "element_key": "dropbox",
        "api_key": APP_KEY,
        "api_secret": APP_SECRET,
        "callback_url": CALLBACK_URL,
        "state": STATE,
    }
    return cloud_elements.get_oauth_url(**{**arguments, **overrides})


def consent(url: str, settings, *, decision: str = "allow") -> dict[str, str]:
    """Open the consent screen, press a button, and return the query of the redirect."""
    browser = requests.Session()
    page = browser.get(url, timeout=10)
    assert page.status_code == 200
    csrf_cookie = browser.cookies.get(settings.CSRF_COOKIE_NAME)
    form = {name: html.unescape(value) for name, value in HIDDEN_INPUT.findall(page.text)}
    assert csrf_cookie
    assert form.get("csrfmiddlewaretoken")
    form["decision"] = decision
    action = urljoin(url, html.unescape(FORM_ACTION.search(page.text).group(1)))
    # Over http Django's CSRF check needs only the cookie and the token; the Referer is what a
    # browser would send anyway, and keeps the flow valid should the sandbox move to https.
    answer = browser.post(
        action,
        data=form,
        cookies={settings.CSRF_COOKIE_NAME: csrf_cookie},
        headers={"Referer": url},
        allow_redirects=False,
        timeout=10,
    )
    assert answer.status_code == 302
    location = answer.headers["Location"]
    assert location.startswith(CALLBACK_URL)
    return dict(parse_qsl(urlsplit(location).query))


def payload(code: str, *, name: str = "Marketing Dropbox", tags=("marketing", "eu")) -> dict:
    """The documented POST /instances body for Dropbox with events on."""
    return {
        "element": {"key": "dropbox"},
        "providerData": {"code": code},
        "configuration": {
            "oauth.api.key": APP_KEY,
            "oauth.api.secret": APP_SECRET,
            "oauth.callback.url": CALLBACK_URL,
            "event.notification.enabled": True,
            "event.notification.callback.url": WEBHOOK_URL,
            "event.notification.signature.key": SIGNATURE_KEY,
        },
        "tags": list(tags),
        "name": name,
    }


def authorized_code(settings) -> str:
    return consent(oauth_url().oauth_url, settings)["code"]


def connect(settings, **fields) -> Instance:
    """Run the whole flow: consent URL, Allow, then create the instance with the code."""
    return cloud_elements.create_instance(payload(authorized_code(settings), **fields))


@pytest.fixture
def created(sandbox_site, settings) -> Instance:
    return connect(settings)


# --- GET /elements/{key}/oauth/url ---------------------------------------------------------------


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


# --- POST /instances -------------------------------------------------------------------------


def test_it_creates_an_instance_from_the_authorization_code(created):
    assert isinstance(created, Instance)
    assert created.id > 0
    assert len(created.token) >= 20
    assert created.name == "Marketing Dropbox"
    assert created.element_key == "dropbox"
    assert created.tags == ["marketing", "eu"]
    assert created.events_enabled is True
    assert created.valid is True
    assert created.disabled is False
    assert created.created_date


def test_it_returns_the_created_instance_with_its_secrets_masked(created):
    configuration = created.configuration
    assert configuration["oauth.api.key"] == MASKED
    assert configuration["oauth.api.secret"] == MASKED
    assert configuration["event.notification.signature.key"] == MASKED
    assert configuration["oauth.callback.url"] == CALLBACK_URL
    assert configuration["event.notification.callback.url"] == WEBHOOK_URL
    assert created.setting("oauth.api.secret") is None
    assert created.setting("oauth.callback.url") == CALLBACK_URL
    assert APP_SECRET not in repr(created)


def test_it_rejects_a_replayed_code(sandbox_site, settings):
    code = authorized_code(settings)
    cloud_elements.create_instance(payload(code))

    with pytest.raises(CloudElementsBadRequestError) as caught:
        cloud_elements.create_instance(payload(code, name="Second try"))

    assert caught.value.status == 400
    assert caught.value.request_id
    assert caught.value.provider_message == "invalid_grant"
    assert "invalid_grant" in caught.value.message
    assert [i.name for i in cloud_elements.list_instances()] == ["Marketing Dropbox"]


def test_it_rejects_a_configuration_sent_back_with_masked_values(created, settings):
    body = payload(authorized_code(settings))
    body["configuration"] = dict(created.configuration)

    with pytest.raises(CloudElementsBadRequestError) as caught:
        cloud_elements.create_instance(body)

    assert caught.value.status == 400
    assert "masked" in caught.value.remote_message


# --- GET /instances/{id}, GET /instances -------------------------------------------------------


def test_it_reads_an_instance_back_with_its_token(created):
    found = cloud_elements.get_instance(created.id)

    assert found.id == created.id
    assert found.token == created.token
    assert found.name == created.name
    assert found.tags == created.tags
    assert found.events_enabled is True


def test_it_lists_instances_filtered_by_tags_and_search_text(sandbox_site, settings):
    marketing = connect(settings, name="Marketing Dropbox", tags=["marketing", "eu"])
    finance = connect(settings, name="Finance Dropbox", tags=["finance", "eu"])

    def ids(**filters) -> list[int]:
        return [instance.id for instance in cloud_elements.list_instances(**filters)]

    assert ids() == [marketing.id, finance.id]
    assert ids(tags=["eu"]) == [marketing.id, finance.id]
    assert ids(tags=["finance"]) == [finance.id]
    assert ids(tags=["marketing", "eu"]) == [marketing.id]
    assert ids(tags=["marketing", "finance"]) == []
    assert ids(search_text="finance") == [finance.id]
    assert ids(search_text="nothing like it") == []
    assert all(i.token for i in cloud_elements.list_instances())


# --- PATCH and PUT /instances/{id} -------------------------------------------------------------


def test_it_updates_name_tags_and_events_with_patch(created):
    updated = cloud_elements.update_instance(
        created.id,
        {
            "name": "Renamed Dropbox",
            "tags": ["operations"],
            "configuration": {"event.notification.enabled": False},
        },
    )

    assert updated.id == created.id
    assert updated.name == "Renamed Dropbox"
    # "Updating tags removes any existing tags": replaced, never merged.
    assert updated.tags == ["operations"]
    assert updated.events_enabled is False
    again = cloud_elements.get_instance(created.id)
    assert (again.name, again.tags, again.events_enabled) == (
        "Renamed Dropbox",
        ["operations"],
        False,
    )
    # A partial configuration leaves the other entries, secrets included, in place.
    assert again.configuration["oauth.api.secret"] == MASKED
    assert again.configuration["event.notification.callback.url"] == WEBHOOK_URL


def test_it_switches_events_off_and_on_the_documented_way_keeping_the_rest(created):
    off = cloud_elements.set_events_enabled(created.id, enabled=False)

    assert off.events_enabled is False
    on = cloud_elements.set_events_enabled(created.id, enabled=True)
    assert on.events_enabled is True
    again = cloud_elements.get_instance(created.id)
    assert again.events_enabled is True
    assert again.configuration["event.notification.callback.url"] == WEBHOOK_URL
    assert again.configuration["oauth.api.secret"] == MASKED
    assert (again.name, again.tags) == (created.name, created.tags)


def test_switching_events_on_can_set_a_missing_callback_url(created):
    cloud_elements.update_instance(
        created.id, {"configuration": {"event.notification.enabled": False}}
    )
    url = "http://127.0.0.1:8000/webhooks/new-receiver/"

    on = cloud_elements.set_events_enabled(created.id, enabled=True, callback_url=url)

    assert on.events_enabled is True
    assert on.configuration["event.notification.callback.url"] == url


def test_it_rejects_a_patch_to_a_missing_instance(sandbox_site):
    with pytest.raises(CloudElementsNotFoundError) as caught:
        cloud_elements.update_instance(987654, {"name": "Nobody"})

    assert caught.value.status == 404


def test_it_rejects_a_patch_with_an_empty_name(created):
    with pytest.raises(CloudElementsBadRequestError) as caught:
        cloud_elements.update_instance(created.id, {"name": "  "})

    assert caught.value.status == 400
    assert cloud_elements.get_instance(created.id).name == "Marketing Dropbox"


def test_it_replaces_an_instance_with_put(created):
    replaced = cloud_elements.replace_instance(
        created.id,
        {
            "name": "Replaced Dropbox",
            "tags": ["archive"],
            "configuration": {
                "oauth.api.key": APP_KEY,
                "oauth.api.secret": APP_SECRET,
                "oauth.callback.url": CALLBACK_URL,
            },
        },
    )

    assert replaced.id == created.id
    assert replaced.name == "Replaced Dropbox"
    assert replaced.tags == ["archive"]
    assert replaced.events_enabled is False
    # A replacement drops what it does not repeat: events and their signature key are gone.
    assert set(replaced.configuration) == {
        "oauth.api.key",
        "oauth.api.secret",
        "oauth.callback.url",
    }
    assert replaced.token == created.token


def test_it_rejects_a_put_that_sends_masked_secrets_back(created):
    with pytest.raises(CloudElementsBadRequestError) as caught:
        cloud_elements.replace_instance(
            created.id,
            {"name": "Careless", "tags": [], "configuration": dict(created.configuration)},
        )

    assert caught.value.status == 400
    assert "oauth.api.secret" in caught.value.remote_message
    assert cloud_elements.get_instance(created.id).name == "Marketing Dropbox"


# --- GET /instances/{id}/configuration --------------------------------------------------------


def test_it_reads_the_configuration_with_secrets_masked(created):
    entries = cloud_elements.get_configuration(created.id)

    assert all(isinstance(entry, ConfigurationEntry) for entry in entries)
    by_key = {entry.key: entry for entry in entries}
    # Cloud Elements also reports documented defaults that were not sent (section 4).
    assert set(by_key) == {*payload("unused")["configuration"], "filter.response.nulls"}
    assert {k for k, e in by_key.items() if e.is_masked} == {
        "oauth.api.key",
        "oauth.api.secret",
        "event.notification.signature.key",
    }
    assert by_key["oauth.api.secret"].property_value == MASKED
    assert by_key["oauth.callback.url"].property_value == CALLBACK_URL
    assert by_key["oauth.callback.url"].is_masked is False
    # propertyValue is always a string, booleans included.
    assert by_key["event.notification.enabled"].property_value == "true"
    assert len({entry.id for entry in entries}) == len(entries)
    assert all(entry.id > 0 for entry in entries)


def test_it_reports_the_configuration_of_a_missing_instance_as_not_found(sandbox_site):
    with pytest.raises(CloudElementsNotFoundError):
        cloud_elements.get_configuration(987654)


# --- DELETE /instances/{id} ----------------------------------------------------------------------


def test_it_deletes_an_instance(created):
    assert cloud_elements.delete_instance(created.id) is None

    with pytest.raises(CloudElementsNotFoundError) as caught:
        cloud_elements.get_instance(created.id)

    assert caught.value.status == 404
    assert caught.value.request_id
    assert cloud_elements.list_instances() == []


def test_it_reports_deleting_a_missing_instance_as_not_found(sandbox_site):
    with pytest.raises(CloudElementsNotFoundError) as caught:
        cloud_elements.delete_instance(987654)

    assert caught.value.status == 404


# --- Wrong secrets -------------------------------------------------------------------------------


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


# --- Logging -------------------------------------------------------------------------------------


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
