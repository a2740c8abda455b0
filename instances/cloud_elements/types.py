"""What the Cloud Elements API answers, as Python: the error family and the parsed responses.

No HTTP here: `instances/cloud_elements/client.py` speaks to Cloud Elements and raises and returns
these (it re-exports them, so callers write `ce.CloudElementsError`, `ce.Instance`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from instances.parameters import MASKED

# --- Errors ----------------------------------------------------------------------------------


class CloudElementsError(Exception):
    """Any failure talking to Cloud Elements, with a message fit to show an operator.

    `ambiguous` is True when the request may have been carried out remotely even though no
    answer arrived (a timeout or dropped connection after sending, a server error), so a
    non-idempotent call must be reconciled rather than repeated.
    """

    ambiguous = False
    default_message = "Cloud Elements could not complete the request."

    def __init__(
        self,
        message: str | None = None,
        *,
        status: int | None = None,
        request_id: str = "",
        remote_message: str = "",
        provider_message: str = "",
    ) -> None:
        self.message = message or self.default_message
        self.status = status
        self.request_id = request_id
        self.remote_message = remote_message
        self.provider_message = provider_message
        super().__init__(self.message)


class CloudElementsTimeoutError(CloudElementsError):
    ambiguous = True
    default_message = "Cloud Elements did not answer in time."


class CloudElementsConnectionError(CloudElementsError):
    default_message = "Cloud Elements could not be reached."


class CloudElementsConnectionDroppedError(CloudElementsError):
    ambiguous = True
    default_message = "The connection to Cloud Elements dropped before it answered."


class CloudElementsServerError(CloudElementsError):
    ambiguous = True
    default_message = "Cloud Elements had an internal error."


class CloudElementsRateLimitedError(CloudElementsServerError):
    """429 Too Many Requests or 503 Service Unavailable: wait `retry_after` seconds, then retry.

    A 429 was refused before any work (not ambiguous); a 503 is a server error like any other.
    """

    default_message = "Cloud Elements is busy (rate limited); try again shortly."

    def __init__(self, message: str | None = None, *, retry_after: float = 1.0, **kwargs) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after
        self.ambiguous = self.status != 429


class CloudElementsAuthenticationError(CloudElementsError):
    default_message = (
        "Cloud Elements rejected the credentials: check CLOUD_ELEMENTS_USER_SECRET and "
        "CLOUD_ELEMENTS_ORGANIZATION_SECRET."
    )


class CloudElementsNotFoundError(CloudElementsError):
    default_message = "Cloud Elements has no such resource."


class CloudElementsConflictError(CloudElementsError):
    default_message = "Cloud Elements says the resource already exists."


class CloudElementsBadRequestError(CloudElementsError):
    default_message = "Cloud Elements rejected the request."


class CloudElementsBadResponseError(CloudElementsError):
    default_message = "Cloud Elements answered with something that is not the expected JSON."


class CloudElementsUnconfirmedError(CloudElementsBadResponseError):
    """A change answered 2xx with a body that cannot be read (a proxy's HTML page, a truncated
    body, JSON without the instance): the change may well have been made."""

    ambiguous = True
    default_message = (
        "Cloud Elements accepted the request, but its answer could not be read, so the change "
        "may have been made."
    )


_ERROR_BY_STATUS: dict[int, type[CloudElementsError]] = {
    401: CloudElementsAuthenticationError,
    404: CloudElementsNotFoundError,
    409: CloudElementsConflictError,
}


# --- Parsed responses ------------------------------------------------------------------------


@dataclass(frozen=True)
class OAuthUrl:
    element: str
    oauth_url: str


@dataclass(frozen=True)
class Instance:
    id: int
    name: str
    element_key: str
    token: str = ""
    tags: list[str] = field(default_factory=list)
    configuration: dict[str, Any] = field(default_factory=dict)
    valid: bool = True
    disabled: bool = False
    events_enabled: bool = False
    created_date: str = ""
    # False for a light object (`hydrate=false`) that lacks the token or the configuration.
    complete: bool = True

    @classmethod
    def from_json(cls, data: Any) -> Instance:
        if not isinstance(data, dict) or "id" not in data:
            raise CloudElementsBadResponseError("Cloud Elements returned an instance without id.")
        configuration = data.get("configuration") or {}
        element = data.get("element") or {}
        if not isinstance(configuration, dict) or not isinstance(element, dict):
            raise CloudElementsBadResponseError("Cloud Elements returned a malformed instance.")
        events = data.get("eventsEnabled")
        if events is None:
            events = configuration.get("event.notification.enabled", False)
        try:
            instance_id = int(data["id"])
        except (TypeError, ValueError):
            raise CloudElementsBadResponseError("Cloud Elements returned a malformed id.") from None
        return cls(
            id=instance_id,
            name=str(data.get("name", "")),
            element_key=str(element.get("key", "")),
            token=str(data.get("token") or ""),
            tags=_parse_tags(data.get("tags")),
            configuration=dict(configuration),
            valid=bool(data.get("valid", True)),
            disabled=bool(data.get("disabled", False)),
            events_enabled=_as_bool(events),
            created_date=str(data.get("createdDate") or ""),
            complete="token" in data and isinstance(data.get("configuration"), dict),
        )

    def setting(self, key: str) -> str | None:
        """Return a configuration value, or None when it is absent or masked."""
        value = self.configuration.get(key)
        if value is None or value == MASKED:
            return None
        return str(value)


@dataclass(frozen=True)
class InstancePage:
    """One page of `GET /instances`: the instances read, and the next page's token ("" at the
    end). `unreadable` counts entries without a usable id, left out."""

    instances: list[Instance]
    next_page: str = ""
    unreadable: int = 0


@dataclass(frozen=True)
class ConfigurationEntry:
    id: int
    key: str
    property_value: str | None

    @property
    def is_masked(self) -> bool:
        return self.property_value == MASKED


def _parse_tags(raw: Any) -> list[str]:
    # Current responses use strings; the 2014 platform docs show {"id", "name"} objects.
    tags = []
    for tag in raw or []:
        name = tag.get("name") if isinstance(tag, dict) else tag
        if name:
            tags.append(str(name))
    return tags


def _as_bool(value: Any) -> bool:
    # Official examples use both JSON booleans and the strings "true"/"false".
    if isinstance(value, str):
        return value.strip().lower() == "true"
    return bool(value)


@dataclass(frozen=True)
class RemoteEvent:
    """One entry of Cloud Elements' event log for an instance."""

    id: str
    event_date: str
    status: str
    # `notifiedData.message.eventId`: what the notification we should have received carried.
    notified_event_id: str
    event_type: str = ""
    object_id: str = ""
    # The Cloud Elements instance it is for (`notifiedData.message.instanceId`), when given.
    instance_id: int | None = None

    @classmethod
    def from_json(cls, data: Any) -> RemoteEvent:
        if not isinstance(data, dict) or "id" not in data:
            raise CloudElementsBadResponseError("Cloud Elements returned an event without id.")
        notified = data.get("notifiedData") or {}
        message = notified.get("message") if isinstance(notified, dict) else None
        message = message if isinstance(message, dict) else {}
        events = message.get("events") if isinstance(message.get("events"), list) else []
        first = events[0] if events and isinstance(events[0], dict) else {}
        return cls(
            id=str(data["id"]),
            event_date=str(data.get("eventDate") or ""),
            status=str(data.get("status") or ""),
            notified_event_id=str(message.get("eventId") or data["id"]),
            event_type=str(first.get("eventType") or ""),
            object_id=str(first.get("objectId") or ""),
            instance_id=_as_id(message.get("instanceId")),
        )


def _as_id(value: Any) -> int | None:
    try:
        return int(value) if value is not None and not isinstance(value, bool) else None
    except (TypeError, ValueError):
        return None
