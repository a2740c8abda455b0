"""The sandbox answers as the documented Cloud Elements API and Dropbox consent screen do.

Written from Cloud Elements' API reference, not from the sandbox's code: a difference between
the sandbox and the documented service fails a test here.

Where the reference is silent, the sandbox had to choose (which status code, which error text,
stable configuration ids, how a code is bound to its app). Those tests carry "sandbox_choice" in
their name or say "The sandbox's choice" in a comment: they pin the sandbox's behaviour, not Cloud
Elements'. The reference documents only the error body's shape and the meaning of each status
code (section 4, "Errors"), so the tests assert the shape and a status with that meaning, never
an error string.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import pytest

from instances.sandbox.models import SandboxAuthCode, SandboxInstance
from tests.conftest import AUTH_HEADER, ORG_SECRET, USER_SECRET

pytestmark = pytest.mark.django_db

API = "/sandbox/elements/api-v2"
MASKED = "********"

# Distinctive values, so that finding one anywhere in a response body means it leaked.
APP_KEY = "dbx-app-key-k7Qw2"
APP_SECRET = "dbx-app-secret-Zr81xLq"
SIGNING_KEY = "signing-key-Hb40pTe"
CALLBACK_URL = "http://127.0.0.1:8000/instances/oauth/callback/"
WEBHOOK_URL = "http://127.0.0.1:8000/webhooks/4f1c2d9e/"
STATE = "st-Kc93vQ"

SECRET_KEYS = ("oauth.api.key", "oauth.api.secret", "event.notification.signature.key")


# --- Helpers --------------------------------------------------------------------------------


class ConsentPage(HTMLParser):
    """Read the consent page as a browser would: the form's action, hidden fields, buttons."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.action: str | None = None
        self.fields: dict[str, str] = {}
        self.buttons: list[dict[str, str]] = []
        self._button: dict[str, str] | None = None
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attributes = {name: value or "" for name, value in attrs}
        if tag == "form":
            self.action = attributes.get("action")
        elif tag == "input" and attributes.get("type") == "hidden":
            self.fields[attributes["name"]] = attributes.get("value", "")
        elif tag == "button":
            self._button = {
                "name": attributes.get("name", ""),
                "value": attributes.get("value", ""),
                "label": "",
            }

    def handle_data(self, data):
        if self._button is not None:
            self._button["label"] += data

    def handle_endtag(self, tag):
        if tag == "button" and self._button is not None:
            self._button["label"] = self._button["label"].strip()
            self.buttons.append(self._button)
            self._button = None

    def button(self, label: str) -> dict[str, str]:
        return next(b for b in self.buttons if b["label"] == label)


def get_oauth_url(client, element="dropbox", **params):
    query = {
        "apiKey": APP_KEY,
        "apiSecret": APP_SECRET,
        "callbackUrl": CALLBACK_URL,
        "state": STATE,
        **params,
    }
    query = {name: value for name, value in query.items() if value is not None}
    return client.get(f"{API}/elements/{element}/oauth/url", query, HTTP_AUTHORIZATION=AUTH_HEADER)


def consent_url(client, **params) -> str:
    response = get_oauth_url(client, **params)
    assert response.status_code == 200, response.content
    return response.json()["oauthUrl"]


def with_query(url: str, **changes) -> str:
    """Return `url` with some query parameters replaced (the rest kept exactly)."""
    parts = urlsplit(url)
    query = {name: values[0] for name, values in parse_qs(parts.query).items()}
    query.update(changes)
    return urlunsplit(parts._replace(query=urlencode(query)))


def decide(client, decision: str, **params):
    """Follow the documented flow up to the consent screen, then click Allow or Deny."""
    page = client.get(consent_url(client, **params))
    assert page.status_code == 200, page.content
    form = ConsentPage(page.content.decode())
    button = form.button(decision)
    return client.post(form.action, {**form.fields, button["name"]: button["value"]})


def redirect_query(response) -> dict[str, list[str]]:
    return parse_qs(urlsplit(response["Location"]).query, keep_blank_values=True)


def new_code(client, **params) -> str:
    response = decide(client, "Allow", **params)
    assert response.status_code == 302, response.content
    return redirect_query(response)["code"][0]


def instance_body(code: str | None, *, name="Finance Dropbox", tags=("finance", "q3")) -> dict:
    """The documented `POST /instances` body for Dropbox with events (seed's shape)."""
    return {
        "element": {"key": "dropbox"},
        "providerData": {"code": code},
        "configuration": {
            "oauth.api.key": APP_KEY,
            "oauth.api.secret": APP_SECRET,
            "oauth.callback.url": CALLBACK_URL,
            "event.notification.enabled": True,
            "event.notification.callback.url": WEBHOOK_URL,
            "event.notification.signature.key": SIGNING_KEY,
        },
        "tags": list(tags),
        "name": name,
    }


def post_json(client, path: str, body, **headers):
    headers.setdefault("HTTP_AUTHORIZATION", AUTH_HEADER)
    return client.post(f"{API}{path}", body, content_type="application/json", **headers)


def patch_json(client, path: str, body):
    return client.patch(
        f"{API}{path}", body, content_type="application/json", HTTP_AUTHORIZATION=AUTH_HEADER
    )


def put_json(client, path: str, body):
    return client.put(
        f"{API}{path}", body, content_type="application/json", HTTP_AUTHORIZATION=AUTH_HEADER
    )


def get(client, path: str, data=None):
    return client.get(f"{API}{path}", data or {}, HTTP_AUTHORIZATION=AUTH_HEADER)


def create_instance(client, **body_changes) -> dict:
    body = instance_body(new_code(client))
    body.update(body_changes)
    response = post_json(client, "/instances", body)
    assert response.status_code == 200, response.content
    return response.json()


def assert_error(response, status: int, *, naming: str | None = None) -> dict:
    """Assert the documented error body: `{requestId, message}` plus optional providerMessage."""
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert isinstance(body, dict)
    assert set(body) - {"providerMessage"} == {"requestId", "message"}
    assert isinstance(body["requestId"], str) and body["requestId"].strip()
    assert isinstance(body["message"], str) and body["message"].strip()
    if "providerMessage" in body:
        assert isinstance(body["providerMessage"], str) and body["providerMessage"].strip()
    if naming is not None:
        assert naming in body["message"]
    return body


def configuration_entries(client, instance_id: int) -> dict[str, dict]:
    response = get(client, f"/instances/{instance_id}/configuration")
    assert response.status_code == 200, response.content
    entries = response.json()
    assert isinstance(entries, list)
    return {entry["key"]: entry for entry in entries}


# --- GET /elements/{key}/oauth/url ----------------------------------------------------------


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


def test_every_error_carries_a_fresh_request_id(client):
    first = assert_error(get_oauth_url(client, apiKey=None), 400)
    second = assert_error(get_oauth_url(client, apiKey=None), 400)

    assert first["requestId"] != second["requestId"]


# --- Authorization header -------------------------------------------------------------------

BAD_HEADERS = {
    "missing": None,
    "empty": "",
    "wrong user secret": f"User wrong, Organization {ORG_SECRET}",
    "wrong organization secret": f"User {USER_SECRET}, Organization wrong",
    "user only": f"User {USER_SECRET}",
    "secrets swapped": f"User {ORG_SECRET}, Organization {USER_SECRET}",
    "bearer": f"Bearer {USER_SECRET}",
}


@pytest.fixture
def stored_instance(db) -> SandboxInstance:
    instance = SandboxInstance(element_key="dropbox", name="Stored", token="stored-token")
    instance.set_configuration({"oauth.api.key": APP_KEY, "oauth.callback.url": CALLBACK_URL})
    instance.save()
    return instance


def call(client, method: str, path: str, header: str | None):
    headers = {} if header is None else {"HTTP_AUTHORIZATION": header}
    body = {"name": "x"} if method in {"post", "patch", "put"} else None
    kwargs = {"content_type": "application/json"} if body is not None else {}
    if body is not None:
        return getattr(client, method)(f"{API}{path}", body, **kwargs, **headers)
    return getattr(client, method)(f"{API}{path}", **headers)


ENDPOINTS = [
    ("get", "/elements/dropbox/oauth/url?apiKey=k&apiSecret=s&callbackUrl=http://a.b/&state=s"),
    ("post", "/instances"),
    ("post", "/elements/dropbox/instances"),
    ("get", "/instances"),
    ("get", "/instances/{id}"),
    ("patch", "/instances/{id}"),
    ("put", "/instances/{id}"),
    ("delete", "/instances/{id}"),
    ("get", "/instances/{id}/configuration"),
]


@pytest.mark.parametrize("header", BAD_HEADERS.values(), ids=BAD_HEADERS.keys())
@pytest.mark.parametrize(("method", "path"), ENDPOINTS, ids=[f"{m} {p}" for m, p in ENDPOINTS])
def test_it_answers_401_without_the_user_and_organization_secrets(
    client, stored_instance, method, path, header
):
    response = call(client, method, path.format(id=stored_instance.id), header)

    assert_error(response, 401)
    stored_instance.refresh_from_db()
    assert stored_instance.name == "Stored"
    assert SandboxInstance.objects.count() == 1


def test_it_accepts_the_header_with_an_element_token_appended(client, stored_instance):
    header = f"{AUTH_HEADER}, Element {stored_instance.token}"

    response = client.get(f"{API}/instances/{stored_instance.id}", HTTP_AUTHORIZATION=header)

    assert response.status_code == 200
    assert response.json()["id"] == stored_instance.id


# --- The Dropbox consent screen -------------------------------------------------------------


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


# --- POST /instances ------------------------------------------------------------------------


def test_creating_an_instance_answers_the_documented_instance_object(client):
    before = datetime.now(UTC).replace(microsecond=0)

    response = post_json(client, "/instances", instance_body(new_code(client)))

    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert isinstance(body["id"], int)
    assert body["name"] == "Finance Dropbox"
    assert isinstance(body["token"], str) and body["token"]
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z", body["createdDate"])
    created = datetime.strptime(body["createdDate"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert before - timedelta(seconds=1) <= created <= datetime.now(UTC) + timedelta(seconds=1)
    element = body["element"]
    assert isinstance(element["id"], int)
    assert element["key"] == "dropbox"
    assert isinstance(element["name"], str) and element["name"]
    assert element["authentication"] == {"type": "oauth2"}
    assert body["configuration"] == {
        "oauth.api.key": MASKED,
        "oauth.api.secret": MASKED,
        "oauth.callback.url": CALLBACK_URL,
        "event.notification.enabled": True,
        "event.notification.callback.url": WEBHOOK_URL,
        "event.notification.signature.key": MASKED,
    }
    assert body["tags"] == ["finance", "q3"]
    assert body["valid"] is True
    assert body["disabled"] is False
    assert body["eventsEnabled"] is True
    assert isinstance(body["user"], dict)
    assert {"id", "emailAddress", "firstName", "lastName"} <= set(body["user"])


def test_creating_an_instance_never_echoes_a_secret(client):
    response = post_json(client, "/instances", instance_body(new_code(client)))

    assert response.status_code == 200
    text = response.content.decode()
    for secret in (APP_KEY, APP_SECRET, SIGNING_KEY):
        assert secret not in text


def test_an_instance_can_be_created_on_the_element_scoped_endpoint(client):
    body = instance_body(new_code(client))
    del body["element"]

    response = post_json(client, "/elements/dropbox/instances", body)

    assert response.status_code == 200
    created = response.json()
    assert created["element"]["key"] == "dropbox"
    assert created["configuration"]["oauth.api.secret"] == MASKED
    assert get(client, f"/instances/{created['id']}").json()["token"] == created["token"]


def test_the_element_scoped_endpoint_answers_404_for_an_unknown_element(client):
    body = instance_body(new_code(client))
    del body["element"]

    response = post_json(client, "/elements/no-such-element/instances", body)

    assert_error(response, 404)
    assert not SandboxInstance.objects.exists()


def test_string_booleans_are_accepted_as_documented(client):
    body = instance_body(new_code(client))
    body["configuration"]["event.notification.enabled"] = "true"

    response = post_json(client, "/instances", body)

    assert response.status_code == 200
    assert response.json()["eventsEnabled"] is True


def test_events_are_off_by_default(client):
    body = instance_body(new_code(client))
    del body["configuration"]["event.notification.enabled"]

    response = post_json(client, "/instances", body)

    assert response.status_code == 200
    assert response.json()["eventsEnabled"] is False


def test_a_code_is_single_use(client):
    # The sandbox's choice: 400 (the status for a bad code is UNCONFIRMED, section 4).
    code = new_code(client)
    assert post_json(client, "/instances", instance_body(code)).status_code == 200

    replay = post_json(client, "/instances", instance_body(code, name="Second"))

    assert_error(replay, 400)
    assert SandboxInstance.objects.count() == 1
    assert [i["name"] for i in get(client, "/instances").json()] == ["Finance Dropbox"]


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("oauth.api.key", "another-app-key"),
        ("oauth.callback.url", "http://127.0.0.1:8000/another/callback/"),
        ("oauth.api.secret", "not-the-app-secret"),
    ],
)
def test_a_code_is_bound_to_its_app_and_redirect_uri(client, key, value):
    """Dropbox's rule (section 7: redirect_uri "must be the exact URI registered"); the 400 for
    a bad code is the sandbox's choice: the status is UNCONFIRMED (section 4, Errors)."""
    body = instance_body(new_code(client))
    body["configuration"][key] = value

    response = post_json(client, "/instances", body)

    assert_error(response, 400)
    assert not SandboxInstance.objects.exists()


def test_an_unknown_code_is_rejected(client):
    # The sandbox's choice: 400 (the status for a bad code is UNCONFIRMED, section 4).
    new_code(client)  # the app exists; only the code is wrong

    response = post_json(client, "/instances", instance_body("no-such-code"))

    assert_error(response, 400)
    assert not SandboxInstance.objects.exists()


def test_a_missing_code_is_rejected_naming_it(client):
    new_code(client)
    body = instance_body(None)
    del body["providerData"]

    response = post_json(client, "/instances", body)

    assert_error(response, 400, naming="code")
    assert not SandboxInstance.objects.exists()


def test_an_expired_code_is_rejected(client):
    # The sandbox's choice: 400 and a 10-minute code lifetime (neither is documented).
    code = new_code(client)
    SandboxAuthCode.objects.filter(code=code).update(
        issued_at=datetime.now(UTC) - timedelta(minutes=11)
    )

    response = post_json(client, "/instances", instance_body(code))

    assert_error(response, 400)
    assert not SandboxInstance.objects.exists()


@pytest.mark.parametrize("name", [None, "", "   "], ids=["absent", "empty", "blank"])
def test_an_instance_needs_a_name(client, name):
    body = instance_body(new_code(client))
    if name is None:
        del body["name"]
    else:
        body["name"] = name

    response = post_json(client, "/instances", body)

    assert_error(response, 400, naming="name")
    assert not SandboxInstance.objects.exists()


def test_an_unknown_element_key_is_rejected(client):
    # The sandbox's choice: 400 in the body (the path form answers 404).
    body = instance_body(new_code(client))
    body["element"] = {"key": "no-such-element"}

    response = post_json(client, "/instances", body)

    assert_error(response, 400)
    assert not SandboxInstance.objects.exists()


@pytest.mark.parametrize("enabled", [True, "true"])
def test_events_enabled_needs_a_callback_url(client, enabled):
    # The sandbox's choice: the reference never says the callback URL is then required.
    body = instance_body(new_code(client))
    body["configuration"]["event.notification.enabled"] = enabled
    del body["configuration"]["event.notification.callback.url"]

    response = post_json(client, "/instances", body)

    assert_error(response, 400, naming="event.notification.callback.url")
    assert not SandboxInstance.objects.exists()


@pytest.mark.parametrize("key", ["oauth.api.key", "oauth.api.secret", "oauth.callback.url"])
def test_a_missing_oauth_configuration_entry_is_rejected_naming_it(client, key):
    body = instance_body(new_code(client))
    del body["configuration"][key]

    response = post_json(client, "/instances", body)

    assert_error(response, 400, naming=key)
    assert not SandboxInstance.objects.exists()


def test_a_body_that_is_not_json_is_rejected(client):
    response = post_json(client, "/instances", "{not json")

    assert_error(response, 400)
    assert not SandboxInstance.objects.exists()


@pytest.mark.parametrize("key", SECRET_KEYS)
def test_a_masked_value_sent_back_is_rejected(client, key):
    # The sandbox's choice: the reference only warns "never send a returned configuration
    # object back as-is" (section 4); what Cloud Elements does with one is undocumented.
    body = instance_body(new_code(client))
    body["configuration"][key] = MASKED

    response = post_json(client, "/instances", body)

    assert_error(response, 400)
    assert not SandboxInstance.objects.exists()


@pytest.mark.parametrize("field", ["element", "providerData"])
def test_creating_with_a_non_object_element_or_provider_data_is_a_400_not_a_500(client, field):
    body = instance_body(new_code(client))
    body[field] = "dropbox"
    client.raise_request_exception = False

    response = post_json(client, "/instances", body)

    assert_error(response, 400)
    assert not SandboxInstance.objects.exists()


def test_patching_with_a_non_object_provider_data_is_a_400_not_a_500(client):
    created = create_instance(client)
    client.raise_request_exception = False

    response = patch_json(client, f"/instances/{created['id']}", {"providerData": "a-code"})

    assert_error(response, 400)


# --- GET /instances -------------------------------------------------------------------------


@pytest.fixture
def two_instances(client) -> tuple[dict, dict]:
    finance = create_instance(client, name="Finance archive", tags=["finance", "q3"])
    marketing = create_instance(client, name="Marketing share", tags=["marketing"])
    return finance, marketing


def listed_ids(client, query=None) -> list[int]:
    response = get(client, "/instances", query)
    assert response.status_code == 200
    assert isinstance(response.json(), list)
    return [item["id"] for item in response.json()]


def test_listing_returns_every_instance_as_an_instance_object(client, two_instances):
    response = get(client, "/instances")

    assert response.status_code == 200
    listed = response.json()
    assert sorted(item["id"] for item in listed) == sorted(i["id"] for i in two_instances)
    for item in listed:
        assert item["element"]["key"] == "dropbox"
        assert item["configuration"]["oauth.api.secret"] == MASKED
    for secret in (APP_KEY, APP_SECRET, SIGNING_KEY):
        assert secret not in response.content.decode()


def test_listing_filters_by_tag(client, two_instances):
    finance, marketing = two_instances

    assert listed_ids(client, {"tags[]": "finance"}) == [finance["id"]]
    assert listed_ids(client, {"tags[]": "marketing"}) == [marketing["id"]]
    assert listed_ids(client, {"tags[]": "nobody"}) == []


def test_listing_searches_names_case_insensitively(client, two_instances):
    finance, marketing = two_instances

    assert listed_ids(client, {"searchText": "MARKETING"}) == [marketing["id"]]
    assert listed_ids(client, {"searchText": "archive"}) == [finance["id"]]
    assert listed_ids(client, {"searchText": "nothing-like-this"}) == []


def test_listing_search_also_matches_the_element_key(client, two_instances):
    assert sorted(listed_ids(client, {"searchText": "dropbox"})) == sorted(
        i["id"] for i in two_instances
    )


# --- GET /instances/{id} --------------------------------------------------------------------


def test_reading_an_instance_returns_its_token(client):
    created = create_instance(client)

    response = get(client, f"/instances/{created['id']}")

    assert response.status_code == 200
    body = response.json()
    assert body["id"] == created["id"]
    assert body["token"] == created["token"]
    assert body["configuration"]["event.notification.signature.key"] == MASKED
    assert SIGNING_KEY not in response.content.decode()


def test_reading_an_unknown_instance_answers_404(client):
    assert_error(get(client, "/instances/987654"), 404)


# --- PATCH /instances/{id} ------------------------------------------------------------------


def test_patch_changes_the_name(client):
    created = create_instance(client)

    response = patch_json(client, f"/instances/{created['id']}", {"name": "Renamed"})

    assert response.status_code == 200
    assert response.json()["name"] == "Renamed"
    assert get(client, f"/instances/{created['id']}").json()["name"] == "Renamed"


def test_patch_replaces_the_tags_rather_than_merging_them(client):
    created = create_instance(client)

    # The documented example body, id included.
    response = patch_json(
        client, f"/instances/{created['id']}", {"id": created["id"], "tags": ["archive"]}
    )

    assert response.status_code == 200
    assert response.json()["tags"] == ["archive"]
    assert get(client, f"/instances/{created['id']}").json()["tags"] == ["archive"]


def test_patch_switches_events_off_and_on_keeping_the_rest_of_the_configuration(client):
    created = create_instance(client)
    path = f"/instances/{created['id']}"

    off = patch_json(client, path, {"configuration": {"event.notification.enabled": False}})

    assert off.status_code == 200
    assert off.json()["eventsEnabled"] is False
    assert off.json()["configuration"] == {
        **created["configuration"],
        "event.notification.enabled": False,
    }
    assert get(client, path).json()["eventsEnabled"] is False
    assert (
        configuration_entries(client, created["id"])["event.notification.enabled"]["propertyValue"]
        == "false"
    )

    on = patch_json(client, path, {"configuration": {"event.notification.enabled": True}})

    assert on.status_code == 200
    assert on.json()["eventsEnabled"] is True
    assert on.json()["configuration"]["event.notification.enabled"] is True
    assert (
        configuration_entries(client, created["id"])["event.notification.enabled"]["propertyValue"]
        == "true"
    )


def test_patch_reauthorizes_with_a_new_code_keeping_the_same_id(client):
    created = create_instance(client)
    code = new_code(client)

    response = patch_json(
        client,
        f"/instances/{created['id']}",
        {"name": "Reconnected", "providerData": {"code": code}},
    )

    assert response.status_code == 200
    assert response.json()["id"] == created["id"]
    assert response.json()["name"] == "Reconnected"
    assert response.json()["valid"] is True
    assert SandboxInstance.objects.count() == 1
    # The code was redeemed by the PATCH: it cannot create another instance.
    assert_error(post_json(client, "/instances", instance_body(code)), 400)


def test_patch_rejects_a_used_code_and_changes_nothing(client):
    # The sandbox's choice: 400 (the status for a bad code is UNCONFIRMED, section 4).
    code = new_code(client)
    created = post_json(client, "/instances", instance_body(code)).json()

    response = patch_json(
        client, f"/instances/{created['id']}", {"name": "Replayed", "providerData": {"code": code}}
    )

    assert_error(response, 400)
    assert get(client, f"/instances/{created['id']}").json()["name"] == created["name"]


def test_patch_rejects_the_returned_configuration_sent_back_as_is(client):
    # The sandbox's choice, as for creation: the reference only warns against doing it.
    created = create_instance(client)
    instance = SandboxInstance.objects.get(pk=created["id"])
    stored = instance.full_configuration()

    response = patch_json(
        client, f"/instances/{created['id']}", {"configuration": created["configuration"]}
    )

    assert_error(response, 400)
    instance.refresh_from_db()
    assert instance.full_configuration() == stored


def test_patch_answers_404_for_an_unknown_instance(client):
    assert_error(patch_json(client, "/instances/987654", {"name": "x"}), 404)


# --- PUT /instances/{id} --------------------------------------------------------------------


def test_put_replaces_the_instance_keeping_its_id(client):
    created = create_instance(client)
    body = instance_body(new_code(client), name="Replaced", tags=["archive"])
    body["configuration"]["event.notification.enabled"] = False
    del body["configuration"]["event.notification.callback.url"]
    del body["configuration"]["event.notification.signature.key"]

    response = put_json(client, f"/instances/{created['id']}", body)

    assert response.status_code == 200
    replaced = response.json()
    assert replaced["id"] == created["id"]
    assert replaced["name"] == "Replaced"
    assert replaced["tags"] == ["archive"]
    assert replaced["eventsEnabled"] is False
    assert replaced["configuration"] == {
        "oauth.api.key": MASKED,
        "oauth.api.secret": MASKED,
        "oauth.callback.url": CALLBACK_URL,
        "event.notification.enabled": False,
    }
    assert (
        get(client, f"/instances/{created['id']}").json()["configuration"]
        == (replaced["configuration"])
    )
    assert SandboxInstance.objects.count() == 1


def test_put_accepts_the_documented_example_body_of_name_and_tags(client):
    created = create_instance(client)

    response = put_json(
        client,
        f"/instances/{created['id']}",
        {"name": "SFDC Updated Instance", "tags": ["tag1", "tag2"]},
    )

    assert response.status_code == 200
    assert response.json()["name"] == "SFDC Updated Instance"
    assert response.json()["tags"] == ["tag1", "tag2"]


def test_put_needs_a_name(client):
    created = create_instance(client)
    body = instance_body(None)
    del body["name"]
    del body["providerData"]

    assert_error(put_json(client, f"/instances/{created['id']}", body), 400, naming="name")
    assert get(client, f"/instances/{created['id']}").json()["name"] == created["name"]


# --- DELETE /instances/{id} -----------------------------------------------------------------


def test_delete_answers_200_and_the_instance_is_then_not_found(client):
    created = create_instance(client)
    path = f"/instances/{created['id']}"

    response = client.delete(f"{API}{path}", HTTP_AUTHORIZATION=AUTH_HEADER)

    assert response.status_code == 200
    assert_error(get(client, path), 404)
    assert_error(get(client, f"{path}/configuration"), 404)
    assert listed_ids(client) == []


def test_delete_answers_404_for_an_unknown_instance(client):
    assert_error(client.delete(f"{API}/instances/987654", HTTP_AUTHORIZATION=AUTH_HEADER), 404)


# --- GET /instances/{id}/configuration ------------------------------------------------------


def test_configuration_lists_string_property_values_with_secrets_masked(client):
    created = create_instance(client)

    response = get(client, f"/instances/{created['id']}/configuration")

    assert response.status_code == 200
    entries = response.json()
    assert isinstance(entries, list)
    for entry in entries:
        assert {"id", "key", "propertyValue"} <= set(entry)
        assert isinstance(entry["id"], int)
        assert isinstance(entry["propertyValue"], str)
    values = {entry["key"]: entry["propertyValue"] for entry in entries}
    assert values == {
        "oauth.api.key": MASKED,
        "oauth.api.secret": MASKED,
        "oauth.callback.url": CALLBACK_URL,
        "event.notification.enabled": "true",
        "event.notification.callback.url": WEBHOOK_URL,
        "event.notification.signature.key": MASKED,
        # Reported with its documented default although it was not sent (section 4).
        "filter.response.nulls": "true",
    }
    assert len({entry["id"] for entry in entries}) == len(entries)
    for secret in (APP_KEY, APP_SECRET, SIGNING_KEY):
        assert secret not in response.content.decode()


def test_sandbox_choice_configuration_ids_are_stable_across_calls_and_updates(client):
    """The reference is silent on whether ids survive an update; the sandbox keeps them."""
    created = create_instance(client)
    first = {key: e["id"] for key, e in configuration_entries(client, created["id"]).items()}

    second = {key: e["id"] for key, e in configuration_entries(client, created["id"]).items()}
    patch_json(
        client,
        f"/instances/{created['id']}",
        {"configuration": {"event.notification.enabled": False}},
    )
    third = {key: e["id"] for key, e in configuration_entries(client, created["id"]).items()}

    assert first == second == third


def test_configuration_answers_404_for_an_unknown_instance(client):
    assert_error(get(client, "/instances/987654/configuration"), 404)


def test_json_bodies_are_json(client):
    created = create_instance(client)

    for response in (
        get(client, "/instances"),
        get(client, f"/instances/{created['id']}"),
        get(client, f"/instances/{created['id']}/configuration"),
    ):
        assert response["Content-Type"].startswith("application/json")
        json.loads(response.content)


def test_a_wrong_method_is_a_405_in_the_documented_error_shape(client):
    # 405 is documented; the `Allow` header is the sandbox's choice (HTTP's rule).
    response = client.delete(f"{API}/instances", HTTP_AUTHORIZATION=AUTH_HEADER)
    assert_error(response, 405)
    assert "GET" in response["Allow"]


def test_an_unknown_api_path_is_a_404_in_the_documented_error_shape(client):
    response = client.get(f"{API}/no/such/thing", HTTP_AUTHORIZATION=AUTH_HEADER)
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
