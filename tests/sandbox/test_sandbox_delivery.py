"""The sandbox delivers one signed Cloud Elements notification per simulated Dropbox change.

A small HTTP server on 127.0.0.1 plays the dashboard's webhook receiver.
"""

from __future__ import annotations

import json
import socket
import threading
from dataclasses import dataclass, field
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from instances.events.signatures import matching_key, sign
from instances.sandbox.delivery import deliver_change
from instances.sandbox.models import SandboxDelivery, SandboxInstance

pytestmark = pytest.mark.django_db

SIGNING_KEY = "delivery-signing-key-Qx7"


@dataclass
class Received:
    method: str
    path: str
    headers: Message
    body: bytes


@dataclass
class Receiver:
    url: str
    status: int = 200
    requests: list[Received] = field(default_factory=list)


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch):
    """Keep every request on 127.0.0.1 even if the environment names an HTTP proxy."""
    for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("no_proxy", "*")
    monkeypatch.setenv("NO_PROXY", "*")


@pytest.fixture
def receiver():
    """A webhook receiver that records each request and answers `receiver.status`."""
    state = Receiver(url="")

    class Handler(BaseHTTPRequestHandler):
        def _record(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            state.requests.append(Received(self.command, self.path, self.headers, body))
            self.send_response(state.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        do_POST = do_GET = do_PUT = _record

        def log_message(self, format, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/webhooks/3b7e/"
    yield state
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def make_instance(url: str, *, enabled=True, key: str | None = SIGNING_KEY) -> SandboxInstance:
    instance = SandboxInstance(
        element_key="dropbox", name="Finance Dropbox", tags=["finance"], token="tok"
    )
    configuration = {
        "oauth.api.key": "app-key",
        "oauth.api.secret": "app-secret",
        "oauth.callback.url": "http://127.0.0.1:8000/instances/oauth/callback/",
        "event.notification.enabled": enabled,
        "event.notification.callback.url": url,
    }
    if key is not None:
        configuration["event.notification.signature.key"] = key
    instance.set_configuration(configuration)
    instance.save()
    return instance


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/webhooks/gone/"


def test_it_posts_one_notification_in_the_documented_message_shape(receiver):
    instance = make_instance(receiver.url)

    deliver_change(instance, event_type="CREATED", path="/Reports/q3.pdf")

    assert len(receiver.requests) == 1
    request = receiver.requests[0]
    assert request.method == "POST"
    assert request.path == "/webhooks/3b7e/"
    assert request.headers["Content-Type"].startswith("application/json")
    body = json.loads(request.body)
    assert set(body) == {"message"}
    message = body["message"]
    assert message["instanceId"] == instance.id
    assert message["elementKey"] == "dropbox"
    assert isinstance(message["eventId"], str) and message["eventId"]
    assert len(message["events"]) == 1
    event = message["events"][0]
    assert {"eventType", "objectType", "objectId", "elementKey", "hubKey"} <= set(event)
    assert event["eventType"] == "CREATED"
    assert event["objectId"] == "/Reports/q3.pdf"
    assert event["elementKey"] == "dropbox"
    assert event["hubKey"] == "documents"
    assert isinstance(event["objectType"], str) and event["objectType"]


def test_it_signs_the_raw_body_with_the_instances_key(receiver):
    instance = make_instance(receiver.url)

    deliver_change(instance, event_type="UPDATED", path="/Reports/q3.pdf")

    request = receiver.requests[0]
    assert request.headers["Elements-Webhook-Signature"] == sign(SIGNING_KEY, request.body)
    assert (
        matching_key(
            ["old-key", SIGNING_KEY], request.body, request.headers["Elements-Webhook-Signature"]
        )
        == 1
    )
    assert request.headers["Elements-Webhook-Id"]


def test_it_records_the_status_the_receiver_answered(receiver):
    receiver.status = 202
    instance = make_instance(receiver.url)

    delivery = deliver_change(instance, event_type="CREATED", path="/Reports/q3.pdf")

    request = receiver.requests[0]
    stored = SandboxDelivery.objects.get()
    assert delivery is not None and delivery.pk == stored.pk
    assert stored.instance_id == instance.id
    assert stored.status_code == 202
    assert stored.error == ""
    assert stored.url == receiver.url
    assert stored.body.encode() == request.body
    assert stored.webhook_id == request.headers["Elements-Webhook-Id"]
    assert stored.event_id == json.loads(request.body)["message"]["eventId"]


def test_it_records_a_server_error_without_raising(receiver):
    receiver.status = 500
    instance = make_instance(receiver.url)

    delivery = deliver_change(instance, event_type="DELETED", path="/Reports/q3.pdf")

    assert len(receiver.requests) == 1
    assert delivery is not None
    assert SandboxDelivery.objects.get().status_code == 500


def test_each_delivery_has_its_own_webhook_id_and_event_id(receiver):
    instance = make_instance(receiver.url)

    deliver_change(instance, event_type="CREATED", path="/a.txt")
    deliver_change(instance, event_type="UPDATED", path="/a.txt")

    first, second = receiver.requests
    # Each notification carries its own change only.
    assert [e["eventType"] for e in json.loads(second.body)["message"]["events"]] == ["UPDATED"]
    assert first.headers["Elements-Webhook-Id"] != second.headers["Elements-Webhook-Id"]
    first_id = json.loads(first.body)["message"]["eventId"]
    assert first_id != json.loads(second.body)["message"]["eventId"]
    assert SandboxDelivery.objects.count() == 2


def test_without_a_signature_key_there_is_no_signature_header(receiver):
    instance = make_instance(receiver.url, key=None)

    delivery = deliver_change(instance, event_type="CREATED", path="/Reports/q3.pdf")

    request = receiver.requests[0]
    assert "Elements-Webhook-Signature" not in request.headers
    assert request.headers["Elements-Webhook-Id"]
    assert delivery is not None and delivery.status_code == 200


def test_string_true_enables_events_as_documented(receiver):
    instance = make_instance(receiver.url, enabled="true")

    deliver_change(instance, event_type="CREATED", path="/Reports/q3.pdf")

    assert len(receiver.requests) == 1


@pytest.mark.parametrize("enabled", [False, "false"])
def test_with_events_disabled_nothing_is_sent(receiver, enabled):
    instance = make_instance(receiver.url, enabled=enabled)

    result = deliver_change(instance, event_type="CREATED", path="/Reports/q3.pdf")

    assert result is None
    assert receiver.requests == []
    assert not SandboxDelivery.objects.exists()


def test_an_unreachable_callback_url_is_recorded_without_raising():
    url = closed_port_url()
    instance = make_instance(url)

    delivery = deliver_change(instance, event_type="CREATED", path="/Reports/q3.pdf")

    stored = SandboxDelivery.objects.get()
    assert delivery is not None and delivery.pk == stored.pk
    assert stored.status_code is None
    assert stored.error.strip()
    assert stored.url == url


@pytest.mark.parametrize("event_type", ["CREATE", "created", "", "RETRIEVED"])
def test_an_invalid_event_type_raises_value_error_and_sends_nothing(receiver, event_type):
    instance = make_instance(receiver.url)

    with pytest.raises(ValueError, match="event_type"):
        deliver_change(instance, event_type=event_type, path="/Reports/q3.pdf")

    assert receiver.requests == []
    assert not SandboxDelivery.objects.exists()
