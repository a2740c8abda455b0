"""How the Cloud Elements client maps transport and HTTP failures into its error family.

The faults are injected at the seam: the client talks real HTTP to a small scripted server on
127.0.0.1, which answers each request with the next scripted behaviour (reply, hang, drop).
No database is needed.
"""

from __future__ import annotations

import inspect
import json
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest
from requests.adapters import HTTPAdapter

from instances.cloud_elements import client as cloud_elements
from instances.cloud_elements.client import (
    CloudElementsAuthenticationError,
    CloudElementsBadRequestError,
    CloudElementsBadResponseError,
    CloudElementsConflictError,
    CloudElementsConnectionDroppedError,
    CloudElementsConnectionError,
    CloudElementsError,
    CloudElementsNotFoundError,
    CloudElementsServerError,
    CloudElementsTimeoutError,
)

USER_SECRET = "fault-user-secret-4242"
ORG_SECRET = "fault-organization-secret-2424"
API_PATH = "/elements/api-v2"

INSTANCE = {
    "id": 58992,
    "name": "API Instance",
    "createdDate": "2017-08-03T14:41:52Z",
    "token": "5MOxxxxxxxxxxxxxxxxxxxxxxxxx",
    "element": {"id": 14, "name": "Dropbox", "key": "dropbox"},
    "valid": True,
    "disabled": False,
    "configuration": {"oauth.api.secret": "********", "event.notification.enabled": "true"},
    "eventsEnabled": True,
    "tags": ["marketing"],
}

Answer = Callable[[BaseHTTPRequestHandler], None]


# --- The scripted server -------------------------------------------------------------------------


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


class Remote:
    """What the scripted server received, and what it will answer next."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.received: list[Received] = []
        self.released = threading.Event()
        self._answers: list[Answer] = [reply(200, {})]
        self._lock = threading.Lock()

    def will(self, *answers: Answer) -> None:
        """Answer the next requests in this order; the last answer then repeats."""
        self._answers = list(answers)

    def next_answer(self) -> Answer:
        with self._lock:
            return self._answers.pop(0) if len(self._answers) > 1 else self._answers[0]

    def methods(self) -> list[str]:
        return [request.method for request in self.received]


class ScriptedHandler(BaseHTTPRequestHandler):
    def handle_request(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        remote: Remote = self.server.remote
        with remote._lock:
            remote.received.append(Received(self.command, self.path, dict(self.headers), body))
        remote.next_answer()(self)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = handle_request

    def log_message(self, format, *args) -> None:
        pass


class ScriptedServer(ThreadingHTTPServer):
    def handle_error(self, request, client_address) -> None:
        # A hung handler writes to a socket the client gave up on; that is the point.
        pass


def reply(status: int, body: object = b"", content_type: str = "application/json") -> Answer:
    payload = body if isinstance(body, bytes) else json.dumps(body).encode()

    def answer(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(status)
        handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(payload)))
        handler.end_headers()
        handler.wfile.write(payload)

    return answer


def hang(handler: BaseHTTPRequestHandler) -> None:
    """Read the request and never answer (until the test is over)."""
    handler.server.remote.released.wait(10)


def drop(handler: BaseHTTPRequestHandler) -> None:
    """Read the request, then close the connection without a status line."""
    handler.close_connection = True


def like_cloud_elements(handler: BaseHTTPRequestHandler) -> None:
    """Answer every documented endpoint with a well-formed body."""
    path = urlsplit(handler.path).path
    if path.endswith("/oauth/url"):
        body: object = {
            "element": "dropbox",
            "oauthUrl": "https://www.dropbox.com/api/oauth2/authorize?response_type=code",
        }
    elif path.endswith("/configuration"):
        body = [{"id": 1, "key": "oauth.api.secret", "propertyValue": "********"}]
    elif handler.command == "GET" and path.endswith("/instances"):
        body = [INSTANCE]
    elif handler.command == "DELETE":
        body = b""
    else:
        body = INSTANCE
    reply(200, body)(handler)


@pytest.fixture
def remote(settings):
    server = ScriptedServer(("127.0.0.1", 0), ScriptedHandler)
    server.remote = Remote(f"http://127.0.0.1:{server.server_address[1]}")
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    settings.CLOUD_ELEMENTS_BASE_URL = server.remote.url + API_PATH
    settings.CLOUD_ELEMENTS_USER_SECRET = USER_SECRET
    settings.CLOUD_ELEMENTS_ORGANIZATION_SECRET = ORG_SECRET
    settings.CLOUD_ELEMENTS_TIMEOUT = 5
    yield server.remote
    server.remote.released.set()
    server.shutdown()
    server.server_close()
    thread.join(5)


@pytest.fixture
def nothing_listening(settings) -> str:
    """A loopback port that was free a moment ago: connecting to it is refused."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings.CLOUD_ELEMENTS_BASE_URL = f"http://127.0.0.1:{port}{API_PATH}"
    return settings.CLOUD_ELEMENTS_BASE_URL


def create() -> cloud_elements.Instance:
    return cloud_elements.create_instance(
        {
            "element": {"key": "dropbox"},
            "providerData": {"code": "single-use-code"},
            "configuration": {
                "oauth.api.key": "app-key",
                "oauth.api.secret": "app-secret",
                "oauth.callback.url": "http://127.0.0.1:8000/instances/oauth/callback/",
            },
            "tags": ["marketing"],
            "name": "API Instance",
        }
    )


def call_every_public_function() -> None:
    cloud_elements.get_oauth_url(
        element_key="dropbox",
        api_key="app-key",
        api_secret="app-secret",
        callback_url="http://127.0.0.1:8000/instances/oauth/callback/",
        state="state",
    )
    create()
    cloud_elements.get_instance(58992)
    cloud_elements.list_instances(tags=["marketing"], search_text="API")
    cloud_elements.update_instance(58992, {"name": "Renamed"})
    cloud_elements.replace_instance(58992, {"name": "Replaced", "tags": []})
    cloud_elements.delete_instance(58992)
    cloud_elements.get_configuration(58992)


PUBLIC_CALLS = {
    "get_oauth_url": lambda: cloud_elements.get_oauth_url(
        element_key="dropbox", api_key="k", api_secret="s", callback_url="http://x/", state="s"
    ),
    "create_instance": create,
    "get_instance": lambda: cloud_elements.get_instance(58992),
    "list_instances": lambda: cloud_elements.list_instances(),
    "update_instance": lambda: cloud_elements.update_instance(58992, {"name": "Renamed"}),
    "replace_instance": lambda: cloud_elements.replace_instance(58992, {"name": "Replaced"}),
    "delete_instance": lambda: cloud_elements.delete_instance(58992),
    "get_configuration": lambda: cloud_elements.get_configuration(58992),
}


# --- Transport failures ------------------------------------------------------------------------


def test_it_raises_an_ambiguous_timeout_when_cloud_elements_does_not_answer(remote, settings):
    settings.CLOUD_ELEMENTS_TIMEOUT = 0.5
    remote.will(hang)
    started = time.monotonic()

    with pytest.raises(CloudElementsTimeoutError) as caught:
        create()

    assert time.monotonic() - started < 4
    assert caught.value.ambiguous is True
    assert caught.value.message == CloudElementsTimeoutError.default_message
    assert remote.methods() == ["POST"]


def test_it_raises_an_unambiguous_connection_error_when_the_connection_is_refused(
    nothing_listening,
):
    with pytest.raises(CloudElementsConnectionError) as caught:
        create()

    assert type(caught.value) is CloudElementsConnectionError
    assert caught.value.ambiguous is False
    assert caught.value.message == "Cloud Elements could not be reached (connection refused)."


def test_a_refused_get_says_refused_after_its_retries_not_timed_out(nothing_listening):
    # urllib3 2.x: NewConnectionError subclasses ConnectTimeoutError.
    with pytest.raises(CloudElementsConnectionError) as caught:
        cloud_elements.get_instance(58992)

    assert caught.value.message == "Cloud Elements could not be reached (connection refused)."
    assert "timed out" not in caught.value.message


def test_an_unresolvable_host_says_so(settings):
    settings.CLOUD_ELEMENTS_BASE_URL = "http://no-such-host.invalid" + API_PATH
    settings.CLOUD_ELEMENTS_TIMEOUT = 2

    with pytest.raises(CloudElementsConnectionError) as caught:
        create()

    assert caught.value.ambiguous is False
    assert "host name could not be resolved" in caught.value.message
    assert "timed out" not in caught.value.message


def test_it_raises_an_ambiguous_error_when_the_connection_drops_after_a_post(remote):
    remote.will(drop)

    with pytest.raises(CloudElementsConnectionDroppedError) as caught:
        create()

    assert caught.value.ambiguous is True
    assert remote.methods() == ["POST"]
    assert json.loads(remote.received[0].body)["providerData"] == {"code": "single-use-code"}


# --- HTTP errors -------------------------------------------------------------------------------


def test_it_raises_a_server_error_carrying_cloud_elements_own_words(remote):
    remote.will(
        reply(
            500,
            {
                "requestId": "53dbca9430045c016b46566c",
                "message": "Failed to create the instance.",
                "providerMessage": "Dropbox is having a bad day",
            },
        )
    )

    with pytest.raises(CloudElementsServerError) as caught:
        create()

    error = caught.value
    assert error.status == 500
    assert error.ambiguous is True
    assert error.request_id == "53dbca9430045c016b46566c"
    assert error.remote_message == "Failed to create the instance."
    assert error.provider_message == "Dropbox is having a bad day"
    assert "Failed to create the instance." in error.message
    assert "Dropbox is having a bad day" in error.message
    assert str(error) == error.message


def test_it_raises_a_server_error_for_an_html_error_page(remote):
    remote.will(
        reply(500, b"<html><body><h1>Internal Server Error</h1></body></html>", "text/html")
    )

    with pytest.raises(CloudElementsServerError) as caught:
        cloud_elements.get_instance(58992)

    assert caught.value.status == 500
    assert caught.value.request_id == ""
    assert caught.value.remote_message == ""
    assert caught.value.message == CloudElementsServerError.default_message


def test_it_raises_a_bad_response_error_for_malformed_json(remote):
    remote.will(reply(200, b'{"id": 58992, "name": '))

    with pytest.raises(CloudElementsBadResponseError) as caught:
        cloud_elements.get_instance(58992)

    assert caught.value.status == 200


def test_it_raises_a_bad_response_error_for_an_instance_without_id(remote):
    remote.will(reply(200, {"name": "No id"}))

    with pytest.raises(CloudElementsBadResponseError):
        cloud_elements.get_instance(58992)


def test_it_raises_a_bad_response_error_when_the_list_is_not_a_list(remote):
    remote.will(reply(200, {"instances": []}))

    with pytest.raises(CloudElementsBadResponseError):
        cloud_elements.list_instances()


@pytest.mark.parametrize(
    ("status", "error_class"),
    [
        (400, CloudElementsBadRequestError),
        (401, CloudElementsAuthenticationError),
        (404, CloudElementsNotFoundError),
        (409, CloudElementsConflictError),
    ],
)
def test_it_maps_each_documented_status_to_its_error(remote, status, error_class):
    remote.will(reply(status, {"requestId": f"request-{status}", "message": f"Said {status}."}))

    with pytest.raises(error_class) as caught:
        create()

    assert type(caught.value) is error_class
    assert caught.value.status == status
    assert caught.value.request_id == f"request-{status}"
    assert caught.value.remote_message == f"Said {status}."
    assert caught.value.message.startswith(error_class.default_message)
    assert caught.value.ambiguous is False
    assert remote.methods() == ["POST"]


@pytest.mark.parametrize("name", sorted(PUBLIC_CALLS))
def test_every_public_function_raises_only_the_client_errors(remote, name):
    remote.will(reply(500, {"requestId": "r-500", "message": "Something went wrong."}))

    with pytest.raises(CloudElementsError) as caught:
        PUBLIC_CALLS[name]()

    assert isinstance(caught.value, CloudElementsServerError)
    assert caught.value.status == 500
    assert caught.value.request_id == "r-500"


# --- Retries -----------------------------------------------------------------------------------


def test_it_retries_a_get_answered_503_until_it_succeeds(remote):
    remote.will(reply(503, b""), reply(503, b""), reply(200, INSTANCE))

    instance = cloud_elements.get_instance(58992)

    assert instance.id == 58992
    assert remote.methods() == ["GET", "GET", "GET"]


def test_it_never_retries_a_post_answered_503(remote):
    remote.will(reply(503, b""), reply(200, INSTANCE))

    with pytest.raises(CloudElementsServerError) as caught:
        create()

    assert caught.value.status == 503
    assert remote.methods() == ["POST"]


# --- What every request carries ----------------------------------------------------------------


def test_every_request_carries_the_user_and_organization_secrets_from_settings(remote):
    remote.will(like_cloud_elements)

    call_every_public_function()

    assert len(remote.received) == len(PUBLIC_CALLS)
    assert {request.headers["Authorization"] for request in remote.received} == {
        f"User {USER_SECRET}, Organization {ORG_SECRET}"
    }


def test_it_sends_each_call_to_its_documented_endpoint(remote):
    remote.will(like_cloud_elements)

    call_every_public_function()

    sent = [(r.method, urlsplit(r.path).path.removeprefix(API_PATH)) for r in remote.received]
    assert sent == [
        ("GET", "/elements/dropbox/oauth/url"),
        ("POST", "/instances"),
        ("GET", "/instances/58992"),
        ("GET", "/instances"),
        ("PATCH", "/instances/58992"),
        ("PUT", "/instances/58992"),
        ("DELETE", "/instances/58992"),
        ("GET", "/instances/58992/configuration"),
    ]
    assert parse_qs(urlsplit(remote.received[3].path).query) == {
        "tags[]": ["marketing"],
        "searchText": ["API"],
    }


def test_every_call_passes_the_configured_timeout(remote, settings, monkeypatch):
    settings.CLOUD_ELEMENTS_TIMEOUT = 3.5
    remote.will(like_cloud_elements)
    timeouts: list[object] = []
    real_send = HTTPAdapter.send

    def spy(adapter, request, **kwargs):
        timeouts.append(kwargs.get("timeout"))
        return real_send(adapter, request, **kwargs)

    monkeypatch.setattr(HTTPAdapter, "send", spy)

    call_every_public_function()

    assert len(timeouts) == len(PUBLIC_CALLS)
    assert timeouts == [3.5] * len(PUBLIC_CALLS)


# --- Parsing -----------------------------------------------------------------------------------


def test_it_parses_tags_given_as_strings_or_as_id_name_objects(remote):
    remote.will(reply(200, {**INSTANCE, "tags": ["marketing", {"id": 12, "name": "my_first_tag"}]}))

    assert cloud_elements.get_instance(58992).tags == ["marketing", "my_first_tag"]


def test_it_reads_events_enabled_from_the_configuration_when_the_flag_is_absent(remote):
    body = {key: value for key, value in INSTANCE.items() if key != "eventsEnabled"}
    remote.will(reply(200, body))

    assert cloud_elements.get_instance(58992).events_enabled is True


def test_every_error_is_a_cloud_elements_error():
    errors = [
        value
        for value in vars(cloud_elements).values()
        if inspect.isclass(value)
        and issubclass(value, Exception)
        and value.__module__ in (cloud_elements.__name__, "instances.cloud_elements.types")
    ]

    assert len(errors) >= 10
    assert all(issubclass(error, CloudElementsError) for error in errors)
    assert all(error().message for error in errors)
