"""What the sandbox contract tests share: the documented bodies, the consent flow, the error check.

The contract tests (tests/sandbox/test_*.py) are written from Cloud Elements' API reference, not
from the sandbox's code: a difference between the sandbox and the documented service fails a test.

Where the reference is silent, the sandbox had to choose (which status code, which error text,
stable configuration ids, how a code is bound to its app). Those tests carry "sandbox_choice" in
their name or say "The sandbox's choice" in a comment: they pin the sandbox's behaviour, not Cloud
Elements'. The reference documents only the error body's shape and the meaning of each status
code (section 4, "Errors"), so the tests assert the shape and a status with that meaning, never
an error string.
"""

from __future__ import annotations

from html.parser import HTMLParser
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

from tests.conftest import AUTH_HEADER

API = "/sandbox/elements/api-v2"
MASKED = "********"

# Distinctive values, so that finding one anywhere in a response body means it leaked.
APP_KEY = "dbx-app-key-k7Qw2"
APP_SECRET = "dbx-app-secret-Zr81xLq"
SIGNING_KEY = "signing-key-Hb40pTe"
CALLBACK_URL = "http://127.0.0.1:8000/instances/oauth/callback/"
WEBHOOK_URL = "http://127.0.0.1:8000/webhooks/4f1c2d9e/"
STATE = "st-Kc93vQ"


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


def listed_ids(client, query=None) -> list[int]:
    response = get(client, "/instances", query)
    assert response.status_code == 200
    assert isinstance(response.json(), list)
    return [item["id"] for item in response.json()]
