"""A real HTTP listener standing in for the team's app, and the ways the forwarding tests store
events (through the receiver, or straight through `ingest.store_delivery` at a chosen time).

The listener is a threaded `http.server` on 127.0.0.1 (a free port). It records every request
(method, path, headers, body bytes, arrival time) and answers from a script set per test and
per path: a list of `Reply`s used in turn, then a standing reply (200 unless told otherwise).
A reply can carry headers (Retry-After), a body, a delay, or `hold` (answer only once
`listener.release` is set). It counts the requests open per path (from arrival until its
answer starts), so a test can read the peak concurrency from the listener's side.
"""

from __future__ import annotations

import itertools
import json
import socket
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

from django.utils import timezone

from instances.events import ingest
from instances.events.models import EventNotification
from instances.forwarding import sender
from tests.events.receiver_helpers import deliver, event, message_body

SERIAL = itertools.count(1)


@dataclass
class Reply:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b"thanks from the app"
    delay: float = 0.0
    hold: bool = False


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]  # names in lower case
    body: bytes
    at: float  # time.monotonic() on arrival

    @property
    def json(self):
        return json.loads(self.body)

    @property
    def webhook_id(self) -> str:
        return self.headers["webhook-id"]


class Listener:
    def __init__(self) -> None:
        self.received: list[Request] = []
        self.release = threading.Event()
        self._scripts: dict[str, list[Reply]] = defaultdict(list)
        self._standing: dict[str, Reply] = {}
        self._open: dict[str, int] = defaultdict(int)
        self.peak: dict[str, int] = defaultdict(int)
        self._lock = threading.Condition()
        listener = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's name)
                listener._handle(self)

            def do_GET(self):  # noqa: N802
                listener._handle(self)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str = "/hooks/app") -> str:
        # A query string, as an app's token would be: the listener keys on the path only.
        return f"{self.base}{path}?token=s3cret"

    def answer(self, *replies: Reply, then: Reply | None = None, path: str = "/hooks/app"):
        """Answer the next requests to `path` with `replies` in turn, then with `then`."""
        with self._lock:
            self._scripts[path] = list(replies)
            if then is not None:
                self._standing[path] = then

    def to(self, path: str = "/hooks/app") -> list[Request]:
        with self._lock:
            return [r for r in self.received if r.path == path]

    def wait_for(self, count: int, *, path: str | None = None, timeout: float = 20.0) -> None:
        def arrived() -> int:
            return len([r for r in self.received if path is None or r.path == path])

        with self._lock:
            if not self._lock.wait_for(lambda: arrived() >= count, timeout):
                raise AssertionError(f"{arrived()} requests arrived within {timeout} s")

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        path = urlsplit(handler.path).path
        request = Request(
            handler.command,
            path,
            {k.lower(): v for k, v in handler.headers.items()},
            body,
            time.monotonic(),
        )
        with self._lock:
            self.received.append(request)
            self._open[path] += 1
            self.peak[path] = max(self.peak[path], self._open[path])
            script = self._scripts[path]
            reply = script.pop(0) if script else self._standing.get(path, Reply())
            self._lock.notify_all()
        try:
            if reply.delay:
                time.sleep(reply.delay)
            if reply.hold:
                self.release.wait(60)
        finally:
            # No longer open once its answer starts: the client can only send its next
            # request after reading this one's answer.
            with self._lock:
                self._open[path] -= 1
        try:
            handler.send_response(reply.status)
            for name, value in reply.headers.items():
                handler.send_header(name, value)
            handler.send_header("Content-Length", str(len(reply.body)))
            handler.end_headers()
            handler.wfile.write(reply.body)
        except OSError:
            pass  # the client gave up (a timeout, a killed forwarder)

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


def closed_port_url() -> str:
    """An address where nothing listens: connecting is refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/hooks/app"


def receive(client, instance, *, events: list | None = None, event_id: str | None = None):
    """Deliver a signed notification through the real receiver; returns it as stored and the
    body Cloud Elements sent. What it queued is made deliveries, as the forwarder's next look
    does (`sender.promote`)."""
    event_id = event_id or f"evt-{next(SERIAL)}"
    body = message_body(event_id, events=events, instance_id=instance.remote_id)
    response = deliver(client, instance, body)
    assert response.status_code == 200, response.content
    sender.promote()
    return EventNotification.objects.get(instance=instance, remote_event_id=event_id), body


def store(instance, received_at: datetime | None = None, *, event_type: str = "CREATED"):
    """Store an event as the receiver does, at `received_at`; what it queued is made
    deliveries, as the forwarder's next look does."""
    n = next(SERIAL)
    events = [{"eventType": event_type, "objectType": "file", "objectId": f"/doc-{n}.pdf"}]
    pk = ingest.store_delivery(
        instance_id=instance.pk,
        fields={
            "dedup_key": f"event:fwd-{n}",
            "remote_event_id": f"fwd-{n}",
            "webhook_id": "",
            "signature": EventNotification.Signature.VERIFIED,
            "event_type": event_type,
            "object_type": "file",
            "object_id": f"/doc-{n}.pdf",
            "events": events,
            "body": json.dumps({"message": {"events": [event(event_type, f"/doc-{n}.pdf")]}}),
        },
        received_at=received_at or timezone.now(),
    )
    assert isinstance(pk, int), pk
    sender.promote()
    return EventNotification.objects.get(pk=pk)
