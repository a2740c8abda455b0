"""Cloud Elements' documented rules, as the sandbox enforces them.

Kept apart from the views so that the views only parse HTTP and shape responses.
"""

from __future__ import annotations

import base64
import hmac
import json
import secrets
from datetime import datetime
from typing import Any, NamedTuple
from urllib.parse import urlsplit

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet, TextField
from django.db.models.fields.json import KT
from django.db.models.functions import Cast
from django.http import JsonResponse
from django.utils import timezone
from django.utils.html import strip_tags

from instances.parameters import API_KEY, API_KEY_PARAMETER, MASKED, OAUTH2

from . import catalog
from .models import CONFIGURATION_DEFAULTS, SandboxApp, SandboxAuthCode, SandboxInstance

# The elements the sandbox knows, with the metadata Cloud Elements returns for them.
ELEMENTS: dict[str, dict[str, Any]] = {
    **{
        key: {"id": element["id"], "name": element["name"], "image": element["image"]}
        for key, element in catalog.ELEMENTS.items()
    },
    "dropboxv2": {"id": 1779, "name": "Dropbox V2", "image": "elements/provider_dropbox.png"},
    "dropboxbusiness": {
        "id": 1780,
        "name": "Dropbox Business",
        "image": "elements/provider_dropboxbusiness.png",
    },
}

SANDBOX_USER = {
    "id": 12345,
    "emailAddress": "operator@sandbox.invalid",
    "firstName": "Sandbox",
    "lastName": "Operator",
}


class ApiError(Exception):
    """An error answered in Cloud Elements' documented `{requestId, message}` shape."""

    def __init__(self, status: int, message: str, provider_message: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.provider_message = provider_message

    def response(self) -> JsonResponse:
        return error_response(self.status, self.message, self.provider_message)


def error_response(status: int, message: str, provider_message: str = "") -> JsonResponse:
    body = {"requestId": secrets.token_hex(12), "message": message}
    if provider_message:
        body["providerMessage"] = provider_message
    return JsonResponse(body, status=status)


def authorization_parts(header: str) -> dict[str, str]:
    """Split `User <secret>, Organization <secret>, Element <token>` into its parts."""
    parts: dict[str, str] = {}
    for part in header.split(","):
        kind, _, value = part.strip().partition(" ")
        if kind and value:
            parts[kind] = value.strip()
    return parts


def _matches(given: str, expected: str) -> bool:
    return bool(expected) and hmac.compare_digest(given.encode(), expected.encode())


def check_authorization(header: str, *, organization: bool = True) -> dict[str, str]:
    """Require `User <secret>, Organization <secret>` (an `Element <token>` part may follow).

    Hub calls need only `User …, Element <token>` (section 2), hence `organization=False`.
    """
    if not (settings.CLOUD_ELEMENTS_USER_SECRET and settings.CLOUD_ELEMENTS_ORGANIZATION_SECRET):
        raise ApiError(401, "The sandbox has no User and Organization secrets configured.")
    parts = authorization_parts(header)
    user_ok = _matches(parts.get("User", ""), settings.CLOUD_ELEMENTS_USER_SECRET)
    org_ok = _matches(parts.get("Organization", ""), settings.CLOUD_ELEMENTS_ORGANIZATION_SECRET)
    if "Organization" in parts or organization:
        user_ok = user_ok and org_ok
    if not user_ok:
        raise ApiError(
            401, "Invalid Organization or User secret, or invalid Element token provided."
        )
    return parts


def instance_for_token(parts: dict[str, str]) -> SandboxInstance:
    """The instance an `Element <token>` part names; 401 when none does (e.g. deleted)."""
    token = parts.get("Element", "")
    # Tokens are encrypted at rest, so they are compared one by one (the sandbox holds few).
    for candidate in SandboxInstance.objects.all() if token else ():
        if _matches(token, candidate.token):
            return candidate
    raise ApiError(401, "Invalid Organization or User secret, or invalid Element token provided.")


def element_key_or_404(key_or_id: str) -> str:
    """Resolve `{keyOrId}`: an element key or its numeric id (sections 3 and 4)."""
    if key_or_id in ELEMENTS:
        return key_or_id
    for key, element in ELEMENTS.items():
        if str(element["id"]) == key_or_id:
            return key
    raise ApiError(404, f"No element found with key or id '{key_or_id}'.")


def register_app(*, client_id: str, client_secret: str, redirect_uri: str) -> SandboxApp:
    """Stand in for the Dropbox App Console: the app and its redirect URI become known.

    The first call fixes the app's secret, as the console does; a different secret later is
    refused, like Dropbox refusing a wrong client secret.
    """
    app, created = SandboxApp.objects.get_or_create(
        client_id=client_id, defaults={"client_secret": client_secret}
    )
    if not created and not hmac.compare_digest(app.client_secret.encode(), client_secret.encode()):
        raise ApiError(
            400,
            "Failed to get the OAuth URL: the apiSecret does not match this apiKey's app.",
            "invalid_client",
        )
    if redirect_uri not in app.redirect_uris:
        app.redirect_uris = [*app.redirect_uris, redirect_uri]
    app.save()
    return app


# --- Validation -----------------------------------------------------------------------------


def _is_true(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() == "true"
    return value is True


def _check_url(key: str, value: Any) -> None:
    parts = urlsplit(value) if isinstance(value, str) else None
    if not parts or parts.scheme not in {"http", "https"} or not parts.netloc:
        raise ApiError(400, f"Configuration '{key}' must be an absolute http(s) URL.")


def sanitise(text: str) -> str:
    """Remove markup and keep the text, as Cloud Elements does with names and tags."""
    return strip_tags(text).strip()


def clean_tags(raw: Any) -> list[str]:
    if raw is None:
        return []
    if not isinstance(raw, list) or not all(isinstance(t, str) for t in raw):
        raise ApiError(400, "'tags' must be an array of strings.")
    return [tag for tag in (sanitise(t) for t in raw) if tag]


def clean_name(raw: Any, *, message: str = "Missing required field: name.") -> str:
    name = sanitise(raw) if isinstance(raw, str) else ""
    if not name:
        raise ApiError(400, message)
    return name


def clean_configuration(raw: Any) -> dict[str, Any]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ApiError(400, "'configuration' must be an object.")
    masked = sorted(k for k, v in raw.items() if v == MASKED)
    if masked:
        raise ApiError(400, f"Configuration sent back with masked values: {', '.join(masked)}.")
    return dict(raw)


def offered_authentication(element_key: str) -> list[str]:
    """The ways element `element_key` authenticates (its catalog entry; else oauth2, apiKey)."""
    entry = catalog.ELEMENTS.get(element_key)
    if entry is None:
        return [OAUTH2, API_KEY]
    return entry.get("authenticationTypes") or [entry["authentication"]["type"]]


def validate_configuration(configuration: dict[str, Any], element_key: str = "dropbox") -> None:
    """Apply the element's requirements: the documented ones of a Dropbox instance, and the
    required entries and choices of the element's catalog entry."""
    offered = offered_authentication(element_key)
    auth_type = configuration.get("authentication.type", offered[0])
    if auth_type not in offered:
        raise ApiError(400, f"'authentication.type' must be {' or '.join(offered)}.")
    if auth_type == OAUTH2:
        required = ["oauth.api.key", "oauth.api.secret", "oauth.callback.url"]
    else:
        required = [API_KEY_PARAMETER]
    events_on = _is_true(configuration.get("event.notification.enabled"))
    entry = catalog.ELEMENTS.get(element_key)
    if entry is not None:
        required += [
            key for key in _required_entries(entry, auth_type, events_on) if key not in required
        ]
    missing = [key for key in required if configuration.get(key) in (None, "")]
    if missing:
        raise ApiError(400, f"Missing required configuration: {', '.join(missing)}.")
    if auth_type == OAUTH2:
        _check_url("oauth.callback.url", configuration["oauth.callback.url"])
    if entry is not None:
        _check_choices(entry, configuration)
        if events_on and not catalog.METADATA[element_key]["events"]["supported"]:
            raise ApiError(400, f"Element '{element_key}' does not support events.")
    if events_on:
        url = configuration.get("event.notification.callback.url")
        if not url:
            raise ApiError(
                400,
                "Missing required configuration: event.notification.callback.url "
                "(required when event.notification.enabled is true).",
            )
        _check_url("event.notification.callback.url", url)


def _required_entries(entry: dict[str, Any], auth_type: str, events_on: bool) -> list[str]:
    """Keys the element requires: its required, shown entries, but OAuth2's only for oauth2,
    the API key's only for apiKey and the event settings only with events on."""
    keys = []
    for item in entry["configuration"]:
        key = item["key"]
        if not item["required"] or item["hideFromConsole"] or item["internal"]:
            continue
        if key.startswith("oauth.") and auth_type != OAUTH2:
            continue
        if key == API_KEY_PARAMETER and auth_type != API_KEY:
            continue
        if key.startswith("event.") and not events_on:
            continue
        keys.append(key)
    return keys


def _check_choices(entry: dict[str, Any], configuration: dict[str, Any]) -> None:
    for item in entry["configuration"]:
        options = [option["value"] for option in item.get("options", [])]
        value = configuration.get(item["key"])
        if options and value is not None and value not in options:
            raise ApiError(
                400, f"Configuration '{item['key']}' must be one of: {', '.join(options)}."
            )


def redeem_code(code: Any, configuration: dict[str, Any]) -> None:
    """Exchange a single-use code as Dropbox would: once, for its own app and redirect URI."""
    invalid = ApiError(
        400,
        "Failed to authenticate with the provider: the authorization code is invalid.",
        "invalid_grant",
    )
    if not isinstance(code, str) or not code:
        raise ApiError(400, "Missing required providerData: code.")
    found = SandboxAuthCode.objects.select_related("app").filter(code=code).first()
    if found is None or found.used_at is not None or found.expired:
        raise invalid
    if found.app.client_id != configuration.get("oauth.api.key"):
        raise invalid
    if found.redirect_uri != configuration.get("oauth.callback.url"):
        raise ApiError(400, invalid.message, "invalid_grant: redirect_uri mismatch")
    if not hmac.compare_digest(
        found.app.client_secret.encode(), str(configuration.get("oauth.api.secret")).encode()
    ):
        raise ApiError(400, invalid.message, "invalid_client")
    claimed = SandboxAuthCode.objects.filter(pk=found.pk, used_at__isnull=True).update(
        used_at=timezone.now()
    )
    if claimed != 1:
        raise invalid


def _object(body: dict[str, Any], name: str) -> dict[str, Any]:
    value = body.get(name) or {}
    if not isinstance(value, dict):
        raise ApiError(400, f"'{name}' must be an object.")
    return value


def create(body: Any, *, element_key: str | None = None) -> SandboxInstance:
    if not isinstance(body, dict):
        raise ApiError(400, "The request body must be a JSON object.")
    key = element_key or _object(body, "element").get("key")
    if not key:
        raise ApiError(400, "Missing required field: element.key.")
    if key not in ELEMENTS:
        raise ApiError(400, f"No element found with key '{key}'.")
    name = clean_name(body.get("name"))
    configuration = clean_configuration(body.get("configuration"))
    tags = clean_tags(body.get("tags"))
    validate_configuration(configuration, key)
    with transaction.atomic():
        if configuration.get("authentication.type", offered_authentication(key)[0]) == OAUTH2:
            redeem_code(_object(body, "providerData").get("code"), configuration)
        instance = SandboxInstance(
            element_key=key, name=name, tags=tags, token=SandboxInstance.new_token()
        )
        instance.set_configuration(configuration)
        instance.save()
    return instance


def update(instance: SandboxInstance, body: Any, *, replace: bool) -> SandboxInstance:
    if not isinstance(body, dict):
        raise ApiError(400, "The request body must be a JSON object.")
    if replace:
        clean_name(body.get("name"))
    if "name" in body:
        instance.name = clean_name(body["name"], message="'name' must be a non-empty string.")
    if "tags" in body or replace:
        # "Updating tags removes any existing tags": the list is replaced, never merged.
        instance.tags = clean_tags(body.get("tags"))
    changes = clean_configuration(body.get("configuration"))
    if replace and "configuration" in body:
        configuration = changes
    else:
        configuration = {**instance.full_configuration(), **changes}
    validate_configuration(configuration, instance.element_key)
    with transaction.atomic():
        code = _object(body, "providerData").get("code")
        if code is not None:
            redeem_code(code, configuration)
            instance.valid = True
        instance.set_configuration(configuration)
        instance.save()
    return instance


def instance_json(instance: SandboxInstance) -> dict[str, Any]:
    element = ELEMENTS.get(instance.element_key, {"id": 0, "name": instance.element_key})
    auth_type = instance.full_configuration().get("authentication.type", OAUTH2)
    return {
        "id": instance.id,
        "name": instance.name,
        "createdDate": instance.created_date.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "token": instance.token,
        "element": {
            "id": element["id"],
            "name": element["name"],
            "key": instance.element_key,
            "description": f"Add a {element['name']} Instance to connect your existing account.",
            "image": element.get("image", ""),
            "active": True,
            "deleted": False,
            "typeOauth": auth_type == OAUTH2,
            "trialAccount": False,
            "configDescription": f"If you do not have a {element['name']} account, create one.",
            "signupURL": "http://www.dropbox.com",
            "transformationsEnabled": False,
            "bulkDownloadEnabled": False,
            "bulkUploadEnabled": False,
            "cloneable": False,
            "extendable": False,
            "beta": False,
            "authentication": {"type": auth_type},
            "extended": False,
            "hub": "documents",
            "protocolType": "http",
            "parameters": [],
            "private": False,
        },
        "provisionInteractions": [],
        "valid": instance.valid,
        "disabled": instance.disabled,
        "maxCacheSize": 0,
        "cacheTimeToLive": 0,
        "configuration": instance.masked_configuration(),
        "eventsEnabled": instance.events_enabled,
        "traceLoggingEnabled": False,
        "cachingEnabled": False,
        "externalAuthentication": "none",
        "user": SANDBOX_USER,
        "tags": instance.tags,
    }


# Paging of GET /instances, as Cloud Elements' other list endpoints page (the reference leaves
# this endpoint's own paging unconfirmed): `pageSize`, `nextPage`, and this response header.
NEXT_PAGE_HEADER = "Elements-Next-Page-Token"
MAX_PAGE_SIZE = 1000


def page_size(value: str) -> int:
    try:
        size = int(value)
    except ValueError:
        raise ApiError(400, "'pageSize' must be a whole number.") from None
    if not 1 <= size <= MAX_PAGE_SIZE:
        raise ApiError(400, f"'pageSize' must be between 1 and {MAX_PAGE_SIZE}.")
    return size


def page_token(last_id: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"after": last_id}).encode()).decode()


def page_after(token: str) -> int:
    """The id a `nextPage` token continues after (0 without a token)."""
    if not token:
        return 0
    try:
        after = json.loads(base64.urlsafe_b64decode(token.encode()))["after"]
    except (ValueError, TypeError, KeyError, UnicodeError):
        raise ApiError(400, "'nextPage' is not a page token this API issued.") from None
    if not isinstance(after, int) or after < 0:
        raise ApiError(400, "'nextPage' is not a page token this API issued.")
    return after


# What a light object (`hydrate=false`) leaves out of an instance: the token, the secret
# configuration entries (even masked), the element's metadata, the owner and the interactions.
# The reference says only "lighter objects"; this is the sandbox's reading of it, and the client
# reads whatever a light object lacks from the instance itself (see cloud_elements.client).


class LightRow(NamedTuple):
    """What a light object is made of, read as plain values: nothing decrypted, no model built,
    the configuration and tags kept as the JSON text the database holds."""

    id: int
    name: str
    element_key: str
    created_date: datetime
    valid: bool
    disabled: bool
    configuration: str
    tags: str
    events: Any  # event.notification.enabled as the database extracts it


def light_rows(found: QuerySet) -> list[LightRow]:
    values = found.values_list(
        "id",
        "name",
        "element_key",
        "created_date",
        "valid",
        "disabled",
        Cast("configuration", TextField()),
        Cast("tags", TextField()),
        KT("configuration__event.notification.enabled"),
    )
    return [LightRow(*row) for row in values]


_LIGHT_ELEMENTS = {
    key: json.dumps({"id": element["id"], "key": key, "name": element["name"]})
    for key, element in ELEMENTS.items()
}


def light_text(row: LightRow) -> str:
    """The light object as JSON text, its configuration and tags spliced in as stored (a page
    of them is the bulk of an account scan: built without decoding and encoding them again)."""
    element = _LIGHT_ELEMENTS.get(row.element_key) or json.dumps(
        {"id": 0, "key": row.element_key, "name": row.element_key}
    )
    events = row.events is True or row.events == 1 or _is_true(row.events)
    return (
        f'{{"id": {int(row.id)}, "name": {json.dumps(row.name)}, '
        f'"createdDate": "{row.created_date.strftime("%Y-%m-%dT%H:%M:%SZ")}", '
        f'"element": {element}, "valid": {json.dumps(bool(row.valid))}, '
        f'"disabled": {json.dumps(bool(row.disabled))}, "eventsEnabled": {json.dumps(events)}, '
        f'"configuration": {row.configuration}, "tags": {row.tags}}}'
    )


def _entry(instance: SandboxInstance, key: str, value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        value = "true" if value else "false"
    return {
        "id": instance.configuration_ids.get(key, 0),
        "key": key,
        "propertyValue": None if value is None else str(value),
    }


def configuration_json(instance: SandboxInstance) -> list[dict[str, Any]]:
    """Every entry, the documented defaults included even when they were never sent."""
    values = {**CONFIGURATION_DEFAULTS, **instance.masked_configuration()}
    return [_entry(instance, key, value) for key, value in sorted(values.items())]


def configuration_entry(instance: SandboxInstance, configuration_id: int) -> dict[str, Any]:
    for entry in configuration_json(instance):
        if entry["id"] == configuration_id:
            return entry
    raise ApiError(404, f"No configuration found with id {configuration_id}.")


def update_configuration_entry(
    instance: SandboxInstance, configuration_id: int, body: Any
) -> dict[str, Any]:
    """PATCH one entry: the GET's object with `propertyValue` changed, as a string (section 5)."""
    entry = configuration_entry(instance, configuration_id)
    if not isinstance(body, dict) or "propertyValue" not in body:
        raise ApiError(400, "Missing required field: propertyValue.")
    value = body["propertyValue"]
    if value is not None and not isinstance(value, str | bool | int):
        raise ApiError(400, "'propertyValue' must be a string.")
    if value == MASKED:
        raise ApiError(400, f"Configuration sent back with masked values: {entry['key']}.")
    configuration = {**instance.full_configuration(), entry["key"]: value}
    validate_configuration(configuration, instance.element_key)
    instance.set_configuration(configuration)
    instance.save()
    return configuration_entry(instance, configuration_id)
