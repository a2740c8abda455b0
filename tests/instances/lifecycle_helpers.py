"""Instances at the sandbox and their rows here, for the tests of an instance's life and events.

`create_remote_instance` creates an instance at the sandbox as production does (consent URL,
Allow, `POST /instances`); `local_copy` is the dashboard's active row for it. The rest reads back
what a request left behind: the row, the messages shown, the audit trail.
"""

from __future__ import annotations

import html
import re
import secrets
from urllib.parse import parse_qs, urljoin, urlsplit

import pytest
import requests
from django.urls import reverse

from instances.cloud_elements import client as cloud_elements
from instances.cloud_elements.client import Instance
from instances.models import AuditEntry, ElementInstance, WebhookSettings

ACTIVE = ElementInstance.Status.ACTIVE


APP_KEY = "app-key-toggle-1729"


APP_SECRET = "app-secret-toggle-very-long-6174"


OAUTH_CALLBACK_URL = "http://127.0.0.1:8000/instances/oauth/callback/"


RECEIVER_URL = "https://hooks.example.com/cloud-elements/"


HIDDEN_INPUT = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)"')


FORM_ACTION = re.compile(r'<form method="post" action="([^"]+)"')


live = pytest.mark.django_db(transaction=True)


Status = ElementInstance.Status


Action = AuditEntry.Action


OLD_KEY = "signature-key-old-0123456789"


NEW_KEY = "signature-key-new-9876543210"


NEW_RECEIVER = "https://hooks.example.com/cloud-elements/v2/"


def allow_consent(consent_url: str, csrf_cookie_name: str) -> str:
    """Press Allow on the sandbox's consent screen, as a browser would; return the code."""
    browser = requests.Session()
    page = browser.get(consent_url, timeout=10)
    assert page.status_code == 200
    form = {name: html.unescape(value) for name, value in HIDDEN_INPUT.findall(page.text)}
    form["decision"] = "allow"
    action = urljoin(consent_url, html.unescape(FORM_ACTION.search(page.text).group(1)))
    answer = browser.post(
        action,
        data=form,
        cookies={csrf_cookie_name: browser.cookies.get(csrf_cookie_name)},
        headers={"Referer": consent_url},
        allow_redirects=False,
        timeout=10,
    )
    assert answer.status_code == 302
    return parse_qs(urlsplit(answer.headers["Location"]).query)["code"][0]


def create_remote_instance(
    settings,
    *,
    name: str = "Marketing Dropbox",
    tags: tuple[str, ...] = ("marketing",),
    events_enabled: bool = False,
    callback_url: str = RECEIVER_URL,
    signature_key: str = "",
) -> Instance:
    """Create an instance at the sandbox: oauth/url, Allow, then `POST /instances`."""
    consent = cloud_elements.get_oauth_url(
        element_key="dropbox",
        api_key=APP_KEY,
        api_secret=APP_SECRET,
        callback_url=OAUTH_CALLBACK_URL,
        state=secrets.token_urlsafe(16),
    )
    code = allow_consent(consent.oauth_url, settings.CSRF_COOKIE_NAME)
    configuration: dict = {
        "oauth.api.key": APP_KEY,
        "oauth.api.secret": APP_SECRET,
        "oauth.callback.url": OAUTH_CALLBACK_URL,
        "event.notification.enabled": events_enabled,
    }
    if callback_url:
        configuration["event.notification.callback.url"] = callback_url
    if signature_key:
        configuration["event.notification.signature.key"] = signature_key
    return cloud_elements.create_instance(
        {
            "element": {"key": "dropbox"},
            "providerData": {"code": code},
            "configuration": configuration,
            "tags": list(tags),
            "name": name,
        }
    )


def local_copy(make_instance, remote: Instance, **webhook) -> ElementInstance:
    """The dashboard's active row for `remote`, with the given webhook settings."""
    instance = make_instance(remote.name, tags=remote.tags, status=ACTIVE, remote_id=remote.id)
    WebhookSettings.objects.filter(instance=instance).update(**webhook)
    return reload(instance)


def reload(instance: ElementInstance) -> ElementInstance:
    return ElementInstance.objects.select_related("webhook").get(pk=instance.pk)


def url(name: str, instance: ElementInstance) -> str:
    return reverse(f"instances:{name}", args=[instance.uuid])


def events_url(instance: ElementInstance) -> str:
    return reverse("instances:events", args=[instance.uuid])


def shown_messages(response) -> list[tuple[str, str]]:
    return [(message.level_tag, message.message) for message in response.context["messages"]]


def audit_actions(instance: ElementInstance) -> list[str]:
    return list(instance.audit_entries.values_list("action", flat=True))
