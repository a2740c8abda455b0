"""Create real instances in the sandbox over HTTP, as the consent flow would."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import requests

from instances.cloud_elements import client as ce

APP_KEY = "sandbox-app-key"
APP_SECRET = "sandbox-app-secret-0001"


def consent_code(site_url: str) -> str:
    """Run oauth/url and the consent screen's Allow over HTTP; return the code."""
    callback = f"{site_url}/instances/oauth/callback/"
    answer = ce.get_oauth_url(
        element_key="dropbox",
        api_key=APP_KEY,
        api_secret=APP_SECRET,
        callback_url=callback,
        state="helper-state",
    )
    with requests.Session() as browser:
        page = browser.get(answer.oauth_url, timeout=10)
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
        fields = {k: v[0] for k, v in parse_qs(urlsplit(answer.oauth_url).query).items()}
        allowed = browser.post(
            answer.oauth_url.split("?")[0],
            data={**fields, "csrfmiddlewaretoken": token, "decision": "allow"},
            allow_redirects=False,
            timeout=10,
        )
    return parse_qs(urlsplit(allowed.headers["Location"]).query)["code"][0]


def create_remote(site_url: str, name: str, *, events: bool = False, tags=()) -> ce.Instance:
    callback = f"{site_url}/instances/oauth/callback/"
    return ce.create_instance(
        {
            "element": {"key": "dropbox"},
            "providerData": {"code": consent_code(site_url)},
            "configuration": {
                "oauth.api.key": APP_KEY,
                "oauth.api.secret": APP_SECRET,
                "oauth.callback.url": callback,
                "event.notification.enabled": events,
                "event.notification.callback.url": f"{site_url}/webhooks/x/",
            },
            "tags": list(tags),
            "name": name,
        }
    )


def make_active(make_instance, site_url: str, name: str, *, events: bool = False, tags=()):
    """A local active instance backed by a real sandbox instance."""
    from instances.models import ElementInstance

    remote = create_remote(site_url, name, events=events, tags=tags)
    instance = make_instance(
        name,
        tags=tags,
        status=ElementInstance.Status.ACTIVE,
        remote_id=remote.id,
        remote_token=remote.token,
        oauth_api_key=APP_KEY,
        oauth_api_secret=APP_SECRET,
    )
    instance.webhook.enabled = events
    instance.webhook.callback_url = f"{site_url}/webhooks/{instance.uuid}/"
    instance.webhook.save()
    return instance
