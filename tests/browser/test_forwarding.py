"""Forwarding, end to end: the operator makes a destination in the browser; a signed event
arrives over HTTP; a real `manage.py forward --once` sends it to the team's app (a real HTTP
listener) which fails first; the event's page shows the failed attempt; the operator resends
it, the forwarder delivers it, and the event's page and the instance page say so."""

from __future__ import annotations

import re
import subprocess
import sys
import threading
import urllib.request
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.conf import settings
from playwright.sync_api import expect
from standardwebhooks.webhooks import Webhook

from instances.events.models import EventNotification
from instances.events.signatures import SIGNATURE_HEADER, sign
from instances.forwarding.models import Delivery, Destination, Queued
from instances.models import ElementInstance
from tests.browser.conftest import log_in
from tests.conftest import PASSWORD
from tests.events.receiver_helpers import KEY, message_body, url_for, with_key
from tests.job_helpers import ROOT, worker_env

pytestmark = pytest.mark.django_db(transaction=True)
APP_DOWN = b"maintenance: back in a minute"
APP_THANKS = b"thanks from the app"


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]  # names in lower case
    body: bytes


class Listener:
    """The team's app: a real HTTP server on loopback that records each request and answers
    `status` with `text`, both switched during the test."""

    def __init__(self) -> None:
        self.received: list[Request] = []
        self.status, self.text = 200, APP_THANKS
        listener = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                headers = {name.lower(): value for name, value in self.headers.items()}
                listener.received.append(Request("POST", self.path, headers, body))
                self.send_response(listener.status)
                self.send_header("Content-Type", "text/plain; charset=utf-8")
                self.send_header("Content-Length", str(len(listener.text)))
                self.end_headers()
                self.wfile.write(listener.text)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        # A query string, as an app's token would be.
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks/ce?token=s3cret"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def answer(self, status: int, text: bytes) -> None:
        self.status, self.text = status, text

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def listener():
    found = Listener()
    yield found
    found.close()


def receive_over_http(base_url: str, instance: ElementInstance, event_id: str) -> None:
    """What Cloud Elements does: POST a signed notification to the instance's receiver."""
    body = message_body(event_id, instance_id=instance.remote_id)
    request = urllib.request.Request(
        base_url + url_for(instance),
        data=body,
        method="POST",
        headers={"Content-Type": "application/json", SIGNATURE_HEADER: sign(KEY, body)},
    )
    with urllib.request.urlopen(request, timeout=15) as response:  # noqa: S310 (loopback)
        assert response.status == 200, response.read()


def run_forwarder() -> str:
    """`manage.py forward --once`, as an operator runs it, on this test's database."""
    done = subprocess.run(
        [sys.executable, "manage.py", "forward", "--once"],
        cwd=ROOT,
        env=worker_env(settings.SITE_URL),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout.strip()


def test_an_event_is_forwarded_fails_then_is_resent_and_delivered(
    page, operator, make_instance, sandbox_site, listener
):
    problems: list[str] = []
    page.on(
        "console",
        lambda message: problems.append(message.text) if message.type == "error" else None,
    )
    page.on("pageerror", lambda error: problems.append(str(error)))

    instance = with_key(
        make_instance("Finance Dropbox", status=ElementInstance.Status.ACTIVE, remote_id=1011),
        KEY,
    )
    instance.webhook.enabled = True
    instance.webhook.callback_url = f"{sandbox_site.url}{url_for(instance)}"
    instance.webhook.save()

    # 1. The operator makes a destination pointing at the team's app.
    log_in(page, "alice", PASSWORD)
    page.locator("#user-tools").get_by_role("link", name="Forwarding").click()
    page.wait_for_url("**/forwarding/")
    expect(page.locator(".empty")).to_contain_text("No destination yet")
    page.get_by_role("link", name="New destination").click()
    page.get_by_label("Name").fill("Our app")
    page.get_by_label("URL").fill(listener.url)
    page.get_by_role("button", name="Make the destination").click()
    expect(page.locator(".messagelist")).to_contain_text("Destination “Our app” made")
    expect(page.locator("#destination-state")).to_have_text("Active")
    expect(page.locator("#destination-url")).to_have_text(listener.url)
    destination = Destination.objects.get()
    assert page.url.endswith(f"/forwarding/{destination.pk}/")
    assert destination.created_by == operator

    # 2. An event arrives while the app is down.
    listener.answer(500, APP_DOWN)
    receive_over_http(sandbox_site.url, instance, "evt-fwd-1")
    event = EventNotification.objects.get(instance=instance)
    # Queued by the receiver, counted on the destination's page; no delivery until the
    # forwarder looks.
    assert list(Queued.objects.values_list("event_id", "destination_id")) == [
        (event.pk, destination.pk)
    ]
    assert not Delivery.objects.exists()
    page.reload()
    expect(page.locator("#destination-queued")).to_have_text("1")

    # 3. The forwarder makes it a delivery and tries it once.
    assert run_forwarder() == "1 retry"
    assert len(listener.received) == 1
    delivery = Delivery.objects.get(event=event)
    assert (delivery.destination_id, delivery.state) == (destination.pk, Delivery.State.PENDING)
    assert not Queued.objects.exists()

    # 4. The event's page, opened from the instance page, shows the failed attempt.
    page.goto(instance.get_absolute_url())
    row = page.locator(".events-table tbody tr").first
    expect(row.locator(".event-forwarding")).to_have_text("1 pending")
    row.locator("a.event-link").click()
    page.wait_for_url(re.compile(rf"/instances/{instance.uuid}/events/{event.pk}/$"))
    forwarding = page.locator("#forwarding")
    delivered_to = forwarding.locator(f'.delivery[data-destination="{destination.pk}"]')
    expect(delivered_to.get_by_role("link", name="Our app")).to_be_visible()
    expect(delivered_to.locator("h3 .forwarding")).to_have_text("Pending")
    attempts = delivered_to.locator(".attempts .attempt")
    expect(attempts).to_have_count(1)
    expect(attempts.first.locator(".attempt-status")).to_have_text("500")
    expect(attempts.first).to_contain_text("Failed, will retry: Answered 500.")
    expect(attempts.first.locator(".response-excerpt")).to_have_text(APP_DOWN.decode())

    # 5. The app is back; the operator resends; the forwarder delivers it.
    listener.answer(200, APP_THANKS)
    delivered_to.get_by_role("button", name="Resend").click()
    expect(page.locator(".messagelist")).to_contain_text(
        "Queued for “Our app”: it goes out in a moment."
    )
    assert page.url.endswith(f"/events/{event.pk}/#forwarding")
    assert run_forwarder() == "1 delivered"
    page.reload()
    expect(delivered_to.locator("h3 .forwarding")).to_have_text("Delivered")
    expect(attempts).to_have_count(2)
    newest = attempts.first
    expect(newest.locator("td").first).to_have_text("2")
    expect(newest.locator(".attempt-status")).to_have_text("200")
    expect(newest).to_contain_text("Delivered")
    expect(newest.locator(".response-excerpt")).to_have_text(APP_THANKS.decode())
    expect(attempts.nth(1).locator(".attempt-status")).to_have_text("500")

    # The app got the same message twice, each signed with the destination's secret.
    sent = listener.received
    assert len(sent) == 2
    assert sent[0].headers["webhook-id"] == sent[1].headers["webhook-id"]
    assert sent[0].headers["webhook-id"].startswith("msg_")
    assert sent[0].body == sent[1].body
    secret = Destination.objects.get(pk=destination.pk).signing_secret
    for request in sent:
        assert request.path == "/hooks/ce?token=s3cret"
        payload = Webhook(secret).verify(request.body, request.headers)
        assert payload["type"] == "notification.received"
        assert payload["data"]["event_id"] == event.pk
        assert payload["data"]["instance"]["id"] == str(instance.uuid)
        assert payload["data"]["notification"]["message"]["eventId"] == "evt-fwd-1"
    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts, delivery.last_status) == ("delivered", 2, 200)

    # 6. The instance page says it was delivered.
    page.goto(instance.get_absolute_url())
    expect(page.locator(".events-table tbody tr").first.locator(".event-forwarding")).to_have_text(
        "1 delivered"
    )
    assert problems == []
