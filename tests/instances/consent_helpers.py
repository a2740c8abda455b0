"""The OAuth consent flow as the instance tests drive it, with Cloud Elements faked.

Cloud Elements is faked at the client's seam (`instances.cloud_elements`), one function at a
time, so that `except CloudElementsError` in the product still sees the real error classes:
`FakeCloudElements` records what the dashboard asks and answers as Cloud Elements documents.
`form_data`, `start` and `callback` submit the instance form, follow it to the consent screen and
come back; `allow_consent` presses Allow on the sandbox's consent screen, over real HTTP.
"""

from __future__ import annotations

import copy
import html
import re
import secrets
import uuid
from urllib.parse import parse_qsl, urljoin, urlsplit

import requests
from django.db import connection
from django.test import Client

from instances import forms
from instances.cloud_elements import client as cloud_elements
from instances.models import ElementInstance

NEW = "/instances/new/"


CALLBACK = "/instances/oauth/callback/"


CONSENT = "https://consent.example/authorize"


CLIENT_SECRET = "app-secret-very-long-4567-never-logged"


SIGNATURE_KEY = "signature-key-9876543210-never-logged"


Status = ElementInstance.Status


class FakeCloudElements:
    """Records what the dashboard asks of Cloud Elements and answers as it documents."""

    def __init__(self) -> None:
        self.oauth_calls: list[dict] = []
        self.payloads: list[dict] = []
        self.tokens: list[str] = []

    @property
    def states(self) -> list[str]:
        return [call["state"] for call in self.oauth_calls]

    def get_oauth_url(self, **arguments) -> cloud_elements.OAuthUrl:
        self.oauth_calls.append(arguments)
        return cloud_elements.OAuthUrl(
            element="dropbox", oauth_url=CONSENT + "?state=" + arguments["state"]
        )

    def create_instance(self, payload: dict) -> cloud_elements.Instance:
        self.payloads.append(copy.deepcopy(payload))
        token = "element-token-" + secrets.token_hex(16)
        self.tokens.append(token)
        return cloud_elements.Instance(
            id=58990 + len(self.payloads),
            name=payload["name"],
            element_key=payload["element"]["key"],
            token=token,
        )

    def fail_create(self, monkeypatch, error: cloud_elements.CloudElementsError) -> None:
        """Make POST /instances fail with `error`, still recording what was sent."""

        def create_instance(payload: dict) -> cloud_elements.Instance:
            self.payloads.append(copy.deepcopy(payload))
            raise error

        monkeypatch.setattr(cloud_elements, "create_instance", create_instance)


def form_data(**overrides) -> dict:
    instance_uuid = str(uuid.uuid4())
    data = {
        "instance_uuid": instance_uuid,
        "name": "Finance Dropbox",
        "element_key": "dropbox",
        "authentication_type": "oauth2",
        "oauth_callback_url": forms.oauth_callback_url(),
        "oauth_api_key": "app-key-123",
        "oauth_api_secret": CLIENT_SECRET,
        "api_key": "",
        "events_enabled": "on",
        "event_callback_url": forms.webhook_url(instance_uuid),
        "signature_key": SIGNATURE_KEY,
        "tags": "finance, eu",
    }
    data.update(overrides)
    return data


def start(client: Client, remote: FakeCloudElements, **overrides) -> tuple[ElementInstance, str]:
    """Submit the form and follow it to the consent screen; return the draft and its state."""
    data = form_data(**overrides)
    response = client.post(NEW, data)
    assert response.status_code == 302, response.content[:2000]
    state = remote.states[-1]
    assert response["Location"] == CONSENT + "?state=" + state
    return ElementInstance.objects.get(uuid=data["instance_uuid"]), state


def callback(client: Client, **params):
    return client.get(CALLBACK, params)


def raw_column(model, column: str, pk: int) -> str:
    """A column as stored in the database, without the model field's decryption."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {column} FROM {model._meta.db_table} WHERE id = %s",
            [pk],
        )
        return cursor.fetchone()[0]


def reloaded(instance: ElementInstance) -> ElementInstance:
    return ElementInstance.objects.select_related("webhook").get(pk=instance.pk)


def allow_consent(consent_url: str, settings) -> dict[str, str]:
    """Press Allow on the sandbox consent screen as a browser would; return the callback query."""
    browser = requests.Session()
    page = browser.get(consent_url, timeout=10)
    assert page.status_code == 200
    form = {
        name: html.unescape(value)
        for name, value in re.findall(
            r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page.text
        )
    }
    form["decision"] = "allow"
    action = re.search(r'<form method="post" action="([^"]+)"', page.text).group(1)
    answer = browser.post(
        urljoin(consent_url, html.unescape(action)),
        data=form,
        headers={"Referer": consent_url},
        allow_redirects=False,
        timeout=10,
    )
    assert answer.status_code == 302
    location = answer.headers["Location"]
    assert location.startswith(settings.SITE_URL + CALLBACK)
    return dict(parse_qsl(urlsplit(location).query))
