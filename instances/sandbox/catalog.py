"""The sandbox's element catalog: what `GET /elements`, `GET /elements/{keyOrId}` and
`GET /elements/{keyOrId}/metadata` answer.

Sources (shared reference `cloud-elements-api.md`, `fleet-anchors.md`; the user's Dropbox
documentation in tests/data):
- An element has `id`, `key`, `name`, `authentication.type` and a `configuration` list whose
  entries carry `key`, `name`, `description`, `defaultValue`, `type` (`BOOLEAN` and
  `TEXTFIELD_1000` are seen in published responses), `required`, `hideFromConsole`,
  `displayOrder`, `internal`, `active`, `resellerConfig`, `companyConfig`, `groupControl`.
- `/metadata` answers `events.supported` and `events.methods` (Dropbox: webhook); a polling
  element takes `event.poller.refresh_interval`.
- **Dropbox** is the documented parameter table, entry for entry (labels, descriptions,
  defaults, optional marks), with the documented authentication types oauth2 and apiKey.

Everything else here is a **sandbox example**, not taken from a published source, and says so
(`"sandboxExample": true` on the element): Box, Google Drive, a payment API with an API key and
no events, and a CRM with a choice and a boolean. So are these shapes: `TEXTFIELD_<n>` for
other lengths than 1000, `PASSWORD` for a secret, `SELECTION` with `options` for a choice,
`authenticationTypes` for an element offering more than one way to authenticate, and
`event.poller.objects` for the objects a poller reads.
"""

from __future__ import annotations

import copy
from typing import Any


def _entry(
    key: str,
    name: str,
    description: str,
    *,
    type_: str = "TEXTFIELD_1000",
    required: bool = True,
    default: str | None = None,
    order: int = 0,
    hidden: bool = False,
    internal: bool = False,
    **extra: Any,
) -> dict[str, Any]:
    return {
        "key": key,
        "name": name,
        "description": description,
        "defaultValue": default,
        "type": type_,
        "required": required,
        "hideFromConsole": hidden,
        "displayOrder": order,
        "internal": internal,
        "active": True,
        "resellerConfig": False,
        "companyConfig": False,
        "groupControl": False,
        **extra,
    }


def _oauth(provider: str, start: int = 1) -> list[dict[str, Any]]:
    """The three OAuth2 entries as the Dropbox table words them, for another provider."""
    return [
        _entry(
            "oauth.callback.url",
            "oauth.callback.url",
            "OAuth 2.0 authentication only. The URL where you want to redirect users after they "
            "grant access. This is the Redirect URI that you noted in the API Provider Setup "
            "section.",
            order=start,
        ),
        _entry(
            "oauth.api.key",
            "oauth.api.key",
            f"OAuth 2.0 authentication only. The Client ID from {provider}.",
            order=start + 1,
        ),
        _entry(
            "oauth.api.secret",
            "oauth.api.secret",
            f"OAuth 2.0 authentication only. The Client Secret from {provider}.",
            order=start + 2,
        ),
    ]


def _webhook_events(start: int) -> list[dict[str, Any]]:
    return [
        _entry(
            "event.notification.enabled",
            "Events Enabled",
            "Identifies that events are enabled for the element instance.",
            type_="BOOLEAN",
            required=False,
            default="false",
            order=start,
        ),
        _entry(
            "event.notification.callback.url",
            "Event Notification Callback URL",
            "The URL where your app can receive events.",
            order=start + 1,
        ),
        _entry(
            "event.notification.signature.key",
            "Callback Notification Signature Key",
            "A user-defined key for added security to show that events have not been tampered "
            "with.",
            required=False,
            order=start + 2,
        ),
    ]


DROPBOX = {
    "id": 14,
    "key": "dropbox",
    "name": "Dropbox",
    "image": "elements/provider_dropbox.png",
    "active": True,
    "authentication": {"type": "oauth2"},
    # The documentation: "Identifies how you are authenticating with Dropbox. Either oauth2 or
    # apiKey." (the list's shape is the sandbox's).
    "authenticationTypes": ["oauth2", "apiKey"],
    "configuration": [
        _entry(
            "oauth.callback.url",
            "oauth.callback.url",
            "OAuth 2.0 authentication only. The URL where you want to redirect users after they "
            "grant access. This is the Redirect URI that you noted in the API Provider Setup "
            "section.",
            order=1,
        ),
        _entry(
            "oauth.api.key",
            "oauth.api.key",
            "OAuth 2.0 authentication only. The Client ID from Dropbox. This is the App key that "
            "you noted in the API Provider Setup section.",
            order=2,
        ),
        _entry(
            "oauth.api.secret",
            "oauth.api.secret",
            "OAuth 2.0 authentication only. The Client Secret from Dropbox. This is the App "
            "secret that you noted in the API Provider Setup section.",
            order=3,
        ),
        _entry(
            "event.notification.enabled",
            "Events Enabled",
            "Identifies that events are enabled for the element instance. Default: false",
            type_="BOOLEAN",
            required=False,
            default="false",
            order=4,
        ),
        _entry(
            "event.notification.callback.url",
            "Event Notification Callback URL",
            "The URL where your app can receive events. This is the Webhook URI that you noted "
            "in the API Provider Setup section.",
            order=5,
        ),
        _entry(
            "event.notification.signature.key",
            "Callback Notification Signature Key",
            "A user-defined key for added security to show that events have not been tampered "
            "with. This can be any custom value that you want passed to the callback handler "
            "listening at the provided Event Notification Callback URL.",
            required=False,
            order=6,
        ),
        # Published elements carry entries the console never shows; a form must leave them out.
        _entry(
            "oauth.user.refresh_token",
            "oauth.user.refresh_token",
            "Kept by Cloud Elements.",
            required=False,
            hidden=True,
            internal=True,
            order=90,
        ),
    ],
}

BOX = {
    "id": 22,
    "key": "box",
    "name": "Box",
    "image": "elements/provider_box.png",
    "active": True,
    "sandboxExample": True,
    "authentication": {"type": "oauth2"},
    "configuration": [*_oauth("Box"), *_webhook_events(4)],
}

GOOGLE_DRIVE = {
    "id": 1530,
    "key": "googledrive",
    "name": "Google Drive",
    "image": "elements/provider_googledrive.png",
    "active": True,
    "sandboxExample": True,
    "authentication": {"type": "oauth2"},
    "configuration": [
        *_oauth("Google"),
        # Events come from polling: no signature key entry.
        *_webhook_events(4)[:2],
        _entry(
            "event.poller.refresh_interval",
            "Event poller refresh interval (mins)",
            "How often, in minutes, Cloud Elements asks Google Drive for changes.",
            type_="TEXTFIELD_32",
            default="15",
            order=6,
        ),
        _entry(
            "event.poller.objects",
            "Objects to poll",
            "The objects whose changes become events.",
            type_="SELECTION",
            default="files",
            order=7,
            options=[
                {"name": "Files", "value": "files"},
                {"name": "Folders", "value": "folders"},
                {"name": "Files and folders", "value": "files,folders"},
            ],
        ),
    ],
}

PAYMENTS = {
    "id": 4100,
    "key": "sandboxpay",
    "name": "Sandbox Pay",
    "image": "",
    "active": True,
    "sandboxExample": True,
    "authentication": {"type": "apiKey"},
    "configuration": [
        _entry(
            "api.key",
            "API key",
            "The secret API key from the Sandbox Pay dashboard.",
            type_="PASSWORD",
            order=1,
        ),
        _entry(
            "api.environment.sandbox",
            "Test mode",
            "Send requests to Sandbox Pay's test environment.",
            type_="BOOLEAN",
            required=False,
            default="true",
            order=2,
        ),
    ],
}

CRM = {
    "id": 4200,
    "key": "sandboxcrm",
    "name": "Sandbox CRM",
    "image": "",
    "active": True,
    "sandboxExample": True,
    "authentication": {"type": "oauth2"},
    "configuration": [
        *_oauth("Sandbox CRM"),
        _entry(
            "crm.region",
            "Data region",
            "Where the account's data is kept.",
            type_="SELECTION",
            default="us",
            order=4,
            options=[{"name": "United States", "value": "us"}, {"name": "Europe", "value": "eu"}],
        ),
        _entry(
            "crm.include.archived",
            "Include archived records",
            "Return archived records too.",
            type_="BOOLEAN",
            required=False,
            default="false",
            order=5,
        ),
        _entry(
            "crm.page.size",
            "Page size",
            "Records per page of a list (a field type the dashboard does not know: shown as text).",
            type_="NUMBER",
            required=False,
            default="100",
            order=6,
        ),
        *_webhook_events(7),
    ],
}

ELEMENTS: dict[str, dict[str, Any]] = {
    element["key"]: element for element in (DROPBOX, BOX, GOOGLE_DRIVE, PAYMENTS, CRM)
}

METADATA: dict[str, dict[str, Any]] = {
    "dropbox": {"events": {"supported": True, "methods": ["webhook"]}},
    "box": {"events": {"supported": True, "methods": ["webhook"]}},
    "googledrive": {"events": {"supported": True, "methods": ["polling"]}},
    "sandboxpay": {"events": {"supported": False, "methods": []}},
    "sandboxcrm": {"events": {"supported": True, "methods": ["webhook"]}},
}


def summary(element: dict[str, Any]) -> dict[str, Any]:
    """An element as `GET /elements` lists it (without its configuration)."""
    return {k: copy.deepcopy(v) for k, v in element.items() if k != "configuration"}


def element(key: str) -> dict[str, Any]:
    return copy.deepcopy(ELEMENTS[key])


def metadata(key: str) -> dict[str, Any]:
    return {"key": key, **copy.deepcopy(METADATA[key])}
