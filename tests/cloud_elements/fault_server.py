"""A small scripted HTTP server on 127.0.0.1 that plays Cloud Elements for the fault tests.

The faults are injected at the seam: the client talks real HTTP to this server, which answers
each request with the next scripted behaviour (reply, hang, drop, or well-formed bodies like
Cloud Elements'). The `remote` fixture starts it and points the client's settings at it; no
database is needed.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import pytest

from instances.cloud_elements import client as cloud_elements

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
