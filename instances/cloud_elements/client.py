"""The Cloud Elements platform API client: the only module that speaks HTTP to Cloud Elements.

Reference: shared/reference/cloud-elements-api.md. The base URL is CLOUD_ELEMENTS_BASE_URL, or
the embedded sandbox at SITE_URL + /sandbox/elements/api-v2 when that is unset.
"""

from __future__ import annotations

import hmac
import logging
import secrets
import threading
import time
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import quote

import requests
from django.conf import settings
from django.views.decorators.debug import sensitive_variables
from requests.adapters import HTTPAdapter
from urllib3.exceptions import (
    ConnectTimeoutError,
    MaxRetryError,
    NameResolutionError,
    NewConnectionError,
    ReadTimeoutError,
)
from urllib3.util.retry import Retry

from instances.cloud_elements.types import (  # noqa: F401 (re-exported: callers use ce.<name>)
    _ERROR_BY_STATUS,
    CloudElementsAuthenticationError,
    CloudElementsBadRequestError,
    CloudElementsBadResponseError,
    CloudElementsConflictError,
    CloudElementsConnectionDroppedError,
    CloudElementsConnectionError,
    CloudElementsError,
    CloudElementsNotFoundError,
    CloudElementsRateLimitedError,
    CloudElementsServerError,
    CloudElementsTimeoutError,
    CloudElementsUnconfirmedError,
    ConfigurationEntry,
    Instance,
    InstancePage,
    OAuthUrl,
    RemoteEvent,
    _as_bool,
    _parse_tags,
)
from instances.lib.hosts import sandbox_proof

logger = logging.getLogger(__name__)

SANDBOX_API_PATH = "/sandbox/elements/api-v2"
SANDBOX_IDENTITY_PATH = "/sandbox/identity"
# SITE_URLs whose sandbox proved to be this server (see _check_sandbox).
_verified_sandboxes: set[str] = set()
# At most CLOUD_ELEMENTS_MAX_CONCURRENCY calls in flight from this process (created on first use,
# after settings are read). Across processes the bound is this times the number of processes.
_in_flight: threading.BoundedSemaphore | None = None
_in_flight_lock = threading.Lock()


# --- Transport -------------------------------------------------------------------------------

_session: requests.Session | None = None
_quick_session: requests.Session | None = None


def _get_session(*, quick: bool = False) -> requests.Session:
    """The shared session; `quick` is the one for reads a person waits on while a page loads
    (an element's description): no retry of a refused connection, which the page reports
    with a Retry button instead of keeping the person waiting."""
    global _session, _quick_session
    if quick:
        if _quick_session is None:
            _quick_session = _new_session(
                Retry(total=1, connect=0, read=0, status=1, backoff_factor=0.25, **_RETRY)
            )
        return _quick_session
    if _session is None:
        _session = _new_session(
            Retry(total=3, connect=3, read=1, status=3, backoff_factor=0.25, **_RETRY)
        )
    return _session


# Only GET is retried: POST /instances carries a single-use OAuth code.
_RETRY = {
    "status_forcelist": {429, 502, 503, 504},
    "allowed_methods": {"GET"},
    "raise_on_status": False,
}


def _new_session(retry: Retry) -> requests.Session:
    session = requests.Session()
    session.mount("http://", HTTPAdapter(max_retries=retry))
    session.mount("https://", HTTPAdapter(max_retries=retry))
    return session


def base_url() -> str:
    if settings.CLOUD_ELEMENTS_BASE_URL:
        return settings.CLOUD_ELEMENTS_BASE_URL
    return settings.SITE_URL + SANDBOX_API_PATH


SANDBOX_ACCOUNT = "sandbox"


def account() -> str:
    """The account remote ids belong to: the base URL, or "sandbox" for the embedded one (its
    instances live in this database, so they stay the same whatever port serves them)."""
    if settings.CLOUD_ELEMENTS_BASE_URL:
        return settings.CLOUD_ELEMENTS_BASE_URL.rstrip("/")
    return SANDBOX_ACCOUNT


def _headers() -> dict[str, str]:
    authorization = (
        f"User {settings.CLOUD_ELEMENTS_USER_SECRET}, "
        f"Organization {settings.CLOUD_ELEMENTS_ORGANIZATION_SECRET}"
    )
    return {
        "Authorization": authorization,
        "Accept": "application/json",
        "Content-Type": "application/json",
    }


def _check_sandbox(*, quick: bool = False) -> None:
    """In sandbox mode, make sure SITE_URL is this server before any secret is sent there.

    A dashboard started on another port than SITE_URL's would otherwise send the OAuth app
    secret and the Authorization header to whatever listens at SITE_URL.
    """
    site = settings.SITE_URL
    if settings.CLOUD_ELEMENTS_BASE_URL or site in _verified_sandboxes:
        return
    nonce = secrets.token_urlsafe(24)
    started = time.monotonic()
    try:
        response = _get_session(quick=quick).get(
            site + SANDBOX_IDENTITY_PATH,
            params={"nonce": nonce},
            timeout=settings.CLOUD_ELEMENTS_TIMEOUT,
            allow_redirects=False,
        )
        _log("GET", SANDBOX_IDENTITY_PATH, response.status_code, started)
        proof = str(response.json().get("proof", "")) if response.status_code == 200 else ""
    except (requests.RequestException, ValueError, AttributeError) as exc:
        _log("GET", SANDBOX_IDENTITY_PATH, type(exc).__name__, started)
        proof = ""
    if not hmac.compare_digest(proof, sandbox_proof(nonce)):
        raise CloudElementsConnectionError(
            f"The sandbox at SITE_URL ({site}) did not answer as this dashboard, so nothing was "
            "sent to it. Serve the dashboard at SITE_URL (`make run HOST=… PORT=…` sets it)."
        )
    _verified_sandboxes.add(site)


@sensitive_variables("params", "json")
def _request(method: str, path: str, *, params=None, json=None, quick: bool = False) -> Any:
    return _request_with_headers(method, path, params=params, json=json, quick=quick)[0]


@sensitive_variables("params", "json")
def _request_with_headers(
    method: str, path: str, *, params=None, json=None, quick: bool = False
) -> tuple[Any, requests.structures.CaseInsensitiveDict]:
    """The parsed body and the response headers (paging tokens travel in a header)."""
    _check_sandbox(quick=quick)
    url = base_url() + path
    started = time.monotonic()
    try:
        with _slot():
            response = _get_session(quick=quick).request(
                method,
                url,
                params=params,
                json=json,
                headers=_headers(),
                timeout=settings.CLOUD_ELEMENTS_TIMEOUT,
                allow_redirects=False,
            )
    except requests.RequestException as exc:
        error = _transport_error(exc)
        _log(method, path, type(error).__name__, started)
        raise error from None
    _log(method, path, response.status_code, started)
    try:
        return _parse(response), response.headers
    except CloudElementsBadResponseError as error:
        raise _unconfirmed(method, error) from None


def _slot() -> threading.BoundedSemaphore:
    global _in_flight
    with _in_flight_lock:
        if _in_flight is None:
            _in_flight = threading.BoundedSemaphore(max(1, settings.CLOUD_ELEMENTS_MAX_CONCURRENCY))
    return _in_flight


def retry_after_seconds(value: str | None, default: float = 1.0) -> float:
    """Parse a Retry-After header: delta-seconds or an HTTP date; never negative."""
    if not value:
        return default
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return default
    return max(0.0, when.timestamp() - time.time())


def _transport_error(exc: requests.RequestException) -> CloudElementsError:
    """Map a transport failure, telling "nothing was sent" from "sent, answer lost"."""
    reason = exc.args[0] if exc.args else None
    if isinstance(reason, MaxRetryError):
        # Retried GETs end here; the last attempt's cause decides.
        reason = reason.reason
    # urllib3 2.x makes NewConnectionError (and NameResolutionError) subclasses of
    # ConnectTimeoutError: the specific classes come first, or a refusal reads as a timeout.
    if isinstance(reason, NameResolutionError):
        return CloudElementsConnectionError(
            "Cloud Elements could not be reached (its host name could not be resolved); check "
            "CLOUD_ELEMENTS_BASE_URL."
        )
    if isinstance(reason, NewConnectionError):
        why = "connection refused" if "refused" in str(reason).lower() else "no connection"
        return CloudElementsConnectionError(f"Cloud Elements could not be reached ({why}).")
    if isinstance(exc, requests.ConnectTimeout) or isinstance(reason, ConnectTimeoutError):
        return CloudElementsConnectionError(
            "Cloud Elements could not be reached (connection timed out)."
        )
    if isinstance(exc, requests.Timeout) or isinstance(reason, ReadTimeoutError):
        return CloudElementsTimeoutError()
    if isinstance(
        exc,
        requests.ConnectionError
        | requests.exceptions.ChunkedEncodingError
        | requests.exceptions.ContentDecodingError,
    ):
        return CloudElementsConnectionDroppedError()
    return CloudElementsConnectionError()


def _log(method: str, path: str, outcome: object, started: float) -> None:
    # The path only: query strings (apiSecret) and headers never reach a log line.
    elapsed = (time.monotonic() - started) * 1000
    logger.info("cloud_elements %s %s -> %s in %.0f ms", method, path, outcome, elapsed)


def _parse(response: requests.Response) -> Any:
    success = 200 <= response.status_code < 300
    if 300 <= response.status_code < 400:
        # Redirects are never followed (they could carry the Authorization header elsewhere).
        raise CloudElementsBadResponseError(
            f"Cloud Elements answered with a redirect ({response.status_code}); check "
            "CLOUD_ELEMENTS_BASE_URL.",
            status=response.status_code,
        )
    body: Any = None
    if response.content:
        try:
            body = response.json()
        except ValueError:
            body = None
            if success:
                raise CloudElementsBadResponseError(status=response.status_code) from None
    if success:
        return body
    error = _error_for(response.status_code, body if isinstance(body, dict) else {})
    if response.status_code in (429, 503):
        raise CloudElementsRateLimitedError(
            error.message.replace(
                error.default_message, CloudElementsRateLimitedError.default_message
            ),
            retry_after=retry_after_seconds(response.headers.get("Retry-After")),
            status=error.status,
            request_id=error.request_id,
            remote_message=error.remote_message,
            provider_message=error.provider_message,
        )
    raise error


def _unconfirmed(method: str, error: CloudElementsBadResponseError) -> CloudElementsError:
    """A 2xx to anything but GET that cannot be read is ambiguous: it may have happened."""
    if method == "GET" or error.ambiguous or not (200 <= (error.status or 0) < 300):
        return error
    return CloudElementsUnconfirmedError(status=error.status)


def _error_for(status: int, body: dict[str, Any]) -> CloudElementsError:
    if status >= 500:
        error_class: type[CloudElementsError] = CloudElementsServerError
    elif status in _ERROR_BY_STATUS:
        error_class = _ERROR_BY_STATUS[status]
    else:
        error_class = CloudElementsBadRequestError
    remote = str(body.get("message") or "")
    provider = str(body.get("providerMessage") or "")
    message = error_class.default_message
    if remote:
        message = f"{message} Cloud Elements says: {remote}"
    if provider:
        message = f"{message} Provider says: {provider}"
    return error_class(
        message,
        status=status,
        request_id=str(body.get("requestId") or ""),
        remote_message=remote,
        provider_message=provider,
    )


def _instance(data: Any) -> Instance:
    return Instance.from_json(data)


@sensitive_variables("json", "data")
def _changed_instance(method: str, path: str, *, json: dict[str, Any]) -> Instance:
    """Send a change; an answer without a readable instance means "it may have happened"."""
    data = _request(method, path, json=json)
    try:
        return Instance.from_json(data)
    except CloudElementsBadResponseError:
        raise CloudElementsUnconfirmedError(status=200) from None


# --- Operations ----------------------------------------------------------------------------


@sensitive_variables("api_secret", "params", "state")
def get_oauth_url(
    *, element_key: str, api_key: str, api_secret: str, callback_url: str, state: str
) -> OAuthUrl:
    """Ask Cloud Elements for the provider's consent URL.

    Reference: cloud-elements-api.md section 3, GET /elements/{keyOrId}/oauth/url
    """
    params = {
        "apiKey": api_key,
        "apiSecret": api_secret,
        "callbackUrl": callback_url,
        "state": state,
    }
    data = _request("GET", f"/elements/{element_key}/oauth/url", params=params)
    if not isinstance(data, dict) or not data.get("oauthUrl"):
        raise CloudElementsBadResponseError("Cloud Elements returned no oauthUrl.")
    return OAuthUrl(element=str(data.get("element") or element_key), oauth_url=data["oauthUrl"])


def list_elements() -> list[dict[str, Any]]:
    """The account's elements, each without its configuration.

    Reference: fleet-anchors.md "Element metadata", GET /elements
    """
    data = _request("GET", "/elements", quick=True)
    if not isinstance(data, list) or not all(isinstance(item, dict) for item in data):
        raise CloudElementsBadResponseError("Cloud Elements returned no list of elements.")
    return data


def get_element(key_or_id: str) -> dict[str, Any]:
    """One element with its `configuration` entries and `authentication`.

    Reference: fleet-anchors.md "Element metadata", GET /elements/{keyOrId}
    """
    data = _request("GET", f"/elements/{quote(str(key_or_id), safe='')}", quick=True)
    if not isinstance(data, dict) or not isinstance(data.get("configuration", []), list):
        raise CloudElementsBadResponseError("Cloud Elements returned no element.")
    return data


def get_element_metadata(key_or_id: str) -> dict[str, Any]:
    """Whether and how the element sends events (`events.supported`, `events.methods`).

    Reference: fleet-anchors.md "Element metadata", GET /elements/{keyOrId}/metadata
    """
    data = _request("GET", f"/elements/{quote(str(key_or_id), safe='')}/metadata", quick=True)
    if not isinstance(data, dict):
        raise CloudElementsBadResponseError("Cloud Elements returned no element metadata.")
    return data


@sensitive_variables("payload")
def create_instance(payload: dict[str, Any]) -> Instance:
    """Create an element instance; never retried, since the OAuth code is single-use.

    Reference: cloud-elements-api.md section 4, POST /instances
    """
    return _changed_instance("POST", "/instances", json=payload)


def get_instance(instance_id: int) -> Instance:
    """Read one element instance, including its token.

    Reference: cloud-elements-api.md section 5, GET /instances/{id}
    """
    return _instance(_request("GET", f"/instances/{int(instance_id)}"))


def list_instances(*, tags: list[str] | None = None, search_text: str = "") -> list[Instance]:
    """List element instances, optionally filtered by tags and a search text.

    Reference: cloud-elements-api.md section 5, GET /instances
    """
    params: dict[str, Any] = {}
    if tags:
        params["tags[]"] = list(tags)
    if search_text:
        params["searchText"] = search_text
    data = _request("GET", "/instances", params=params or None)
    if not isinstance(data, list):
        raise CloudElementsBadResponseError("Cloud Elements returned no list of instances.")
    return [_instance(item) for item in data]


NEXT_PAGE_HEADER = "Elements-Next-Page-Token"


def list_instance_page(
    *, page_size: int = 500, next_page: str = "", hydrate: bool = False
) -> InstancePage:
    """Read one page of the account's instances; `next_page` is "" after the last one.

    Reference: cloud-elements-api.md section 5, GET /instances: paging is UNCONFIRMED for this
    endpoint, so the convention of the other list endpoints is followed (`pageSize`, `nextPage`,
    the next page's token in `Elements-Next-Page-Token`) when the answer carries that header, and
    a plain array without it is the whole account. `hydrate=false` asks for lighter objects;
    whatever they lack (the token, the configuration) `Instance.complete` says.
    """
    params: dict[str, Any] = {"pageSize": int(page_size)}
    if next_page:
        params["nextPage"] = next_page
    if not hydrate:
        params["hydrate"] = "false"
    data, headers = _request_with_headers("GET", "/instances", params=params)
    if not isinstance(data, list):
        raise CloudElementsBadResponseError("Cloud Elements returned no list of instances.")
    instances, unreadable = [], 0
    for item in data:
        try:
            instances.append(Instance.from_json(item))
        except CloudElementsBadResponseError:
            unreadable += 1
    return InstancePage(
        instances=instances,
        next_page=str(headers.get(NEXT_PAGE_HEADER) or ""),
        unreadable=unreadable,
    )


def update_instance(instance_id: int, changes: dict[str, Any]) -> Instance:
    """Change part of an instance (name, tags, configuration, providerData.code).

    Reference: cloud-elements-api.md section 5, PATCH /instances/{id}
    """
    return _changed_instance("PATCH", f"/instances/{int(instance_id)}", json=changes)


def set_events_enabled(
    instance_id: int, *, enabled: bool, callback_url: str | None = None
) -> Instance:
    """Switch an active instance's event notifications on or off, keeping everything else.

    Reference: cloud-elements-api.md section 5, "Switching event notifications on or off": the
    primary way is `PATCH /instances/{id}` with `{"configuration": {"event.notification.enabled":
    …}}` (a JSON boolean, section 9). The per-entry `PATCH .../configuration/{configId}` is the
    documented alternative; it needs a GET first and cannot add a missing callback URL.
    """
    configuration: dict[str, Any] = {"event.notification.enabled": bool(enabled)}
    if callback_url:
        configuration["event.notification.callback.url"] = callback_url
    return update_instance(instance_id, {"configuration": configuration})


def set_instance_enabled(instance_id: int, *, enabled: bool) -> Instance:
    """Enable (`PUT`) or disable (`DELETE`) an instance, keeping its configuration.

    Reference: cloud-elements-api.md section 5, `PUT`/`DELETE /instances/{id}/enabled` (churros;
    the docs' own form is `/instances/enabled` with the Element token). The response body is
    not documented, so the instance is read back.
    """
    _request("PUT" if enabled else "DELETE", f"/instances/{int(instance_id)}/enabled")
    return get_instance(instance_id)


def replace_instance(instance_id: int, payload: dict[str, Any]) -> Instance:
    """Replace an instance's name, tags and configuration.

    Reference: cloud-elements-api.md section 5, PUT /instances/{id}
    """
    return _changed_instance("PUT", f"/instances/{int(instance_id)}", json=payload)


def delete_instance(instance_id: int) -> None:
    """Delete an instance (User and Organization secrets only, never the Element token).

    Reference: cloud-elements-api.md section 5, DELETE /instances/{id}
    """
    _request("DELETE", f"/instances/{int(instance_id)}")


def get_configuration(instance_id: int) -> list[ConfigurationEntry]:
    """Read an instance's configuration entries; secrets come back masked.

    Reference: cloud-elements-api.md section 5, GET /instances/{id}/configuration
    """
    data = _request("GET", f"/instances/{int(instance_id)}/configuration")
    if not isinstance(data, list):
        raise CloudElementsBadResponseError("Cloud Elements returned no configuration list.")
    entries = []
    for item in data:
        if not isinstance(item, dict) or "key" not in item:
            raise CloudElementsBadResponseError("Cloud Elements returned a malformed entry.")
        value = item.get("propertyValue")
        try:
            entry_id = int(item.get("id") or 0)
        except (TypeError, ValueError):
            raise CloudElementsBadResponseError("Cloud Elements returned a malformed id.") from None
        entries.append(
            ConfigurationEntry(
                id=entry_id,
                key=str(item["key"]),
                property_value=None if value is None else str(value),
            )
        )
    return entries


def list_instance_events(instance_id: int, *, page_size: int = 50) -> list[RemoteEvent]:
    """Read the newest page of an instance's event log at Cloud Elements.

    Reference: cloud-elements-api.md section 5, GET /instances/{id}/events (CORROBORATED).
    """
    data = _request(
        "GET", f"/instances/{int(instance_id)}/events", params={"pageSize": int(page_size)}
    )
    if not isinstance(data, list):
        raise CloudElementsBadResponseError("Cloud Elements returned no list of events.")
    return [RemoteEvent.from_json(item) for item in data]


def list_account_events(
    *, page_size: int = 200, next_page: str = ""
) -> tuple[list[RemoteEvent], str]:
    """One page of the whole account's event log, newest first, and the next page's token.

    Reference: cloud-elements-api.md section 5, GET /instances/events (paged with `pageSize`
    and `nextPage`, the next page's token in `Elements-Next-Page-Token`).
    """
    params: dict[str, Any] = {"pageSize": int(page_size)}
    if next_page:
        params["nextPage"] = next_page
    data, headers = _request_with_headers("GET", "/instances/events", params=params)
    if not isinstance(data, list):
        raise CloudElementsBadResponseError("Cloud Elements returned no list of events.")
    return [RemoteEvent.from_json(item) for item in data], str(headers.get(NEXT_PAGE_HEADER) or "")
