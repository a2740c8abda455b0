"""The OAuth flow the live client tests play against the sandbox, with plain `requests`.

The consent URL comes from the client, the consent screen is opened and its button pressed as a
browser would, and the code is redeemed with the documented `POST /instances` body; the values
are distinctive so that finding one in a log or a response means it leaked.
"""

from __future__ import annotations

import html
import re
from urllib.parse import parse_qsl, urljoin, urlsplit

import requests

from instances.cloud_elements import client as cloud_elements
from instances.cloud_elements.client import Instance, OAuthUrl

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
