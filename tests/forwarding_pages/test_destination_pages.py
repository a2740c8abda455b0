"""The Forwarding pages: make, edit, list and open a destination; pause, resume, send a test,
rotate and reveal its secret, replay a window; an event's page shows its attempts and resends
it; the instance page says how each event was forwarded. A real HTTP listener answers."""

from __future__ import annotations

import http.server
import threading

import pytest
from django.contrib.auth.models import Permission, User
from django.urls import reverse
from standardwebhooks.webhooks import Webhook

from instances.forwarding import sender
from instances.forwarding.models import Delivery, Destination
from instances.jobs.models import Job
from instances.models import ElementInstance
from tests.events.receiver_helpers import KEY, deliver, message_body, with_key

pytestmark = pytest.mark.django_db
PASSWORD = "correct horse battery staple"


class Listener:
    """A real HTTP server on loopback: records each request, answers `status`."""

    def __init__(self) -> None:
        self.requests: list[tuple[dict, bytes]] = []
        self.status = 200
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                outer.requests.append((dict(self.headers), body))
                self.send_response(outer.status)
                self.send_header("Content-Type", "text/plain")
                self.end_headers()
                self.wfile.write(b"thanks from the app")

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/ce?token=s3cret"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def listener():
    found = Listener()
    yield found
    found.close()


@pytest.fixture
def signed_in(client, operator):
    client.force_login(operator)
    return client


@pytest.fixture
def instance(make_instance):
    made = make_instance(
        "Finance Dropbox", status=ElementInstance.Status.ACTIVE, remote_id=1011, tags=["Finance"]
    )
    return with_key(made, KEY)


def make_destination(signed_in, url: str, **fields) -> Destination:
    data = {"name": "Our app", "url": url, "max_in_flight": 5, **fields}
    response = signed_in.post(reverse("forwarding:new"), data)
    assert response.status_code == 302, response.content
    return Destination.objects.get(name=data["name"])


def test_a_destination_is_made_listed_and_forwards_a_received_event(signed_in, instance, listener):
    destination = make_destination(signed_in, listener.url, tags="finance", event_types="created")
    assert (destination.tags, destination.event_types) == (["finance"], ["CREATED"])
    assert destination.signing_secret.startswith("whsec_")

    listed = signed_in.get(reverse("forwarding:index")).text
    assert "Our app" in listed and "127.0.0.1" in listed and "s3cret" not in listed
    assert destination.signing_secret not in signed_in.get(destination.get_absolute_url()).text

    assert deliver(signed_in, instance, message_body("evt-1")).status_code == 200
    assert sender.forward_due(concurrency=1) == {"delivered": 1}
    headers, body = listener.requests[0]
    Webhook(destination.signing_secret).verify(body, headers)

    event = instance.events.get()
    page = signed_in.get(event.get_absolute_url()).text
    assert 'id="forwarding"' in page and "Our app" in page
    assert "thanks from the app" in page and ">200<" in page
    row = signed_in.get(instance.get_absolute_url()).text
    assert "1 delivered" in row


def test_bad_input_is_refused_with_the_reason_and_kept(signed_in):
    response = signed_in.post(
        reverse("forwarding:new"),
        {
            "name": "Bad",
            "url": "http://example.com/hooks",
            "max_in_flight": 0,
            "event_types": "created, 9bad",
            "instance_list": "no such instance",
        },
    )
    assert response.status_code == 400
    text = response.text
    assert "Plain http:// is for this machine only" in text
    assert "Not an event type: 9BAD" in text
    assert "No such instance: “no such instance”" in text
    assert 'value="http://example.com/hooks"' in text
    assert not Destination.objects.exists()
    response = signed_in.post(
        reverse("forwarding:new"),
        {"name": "Creds", "url": "https://user:pw@example.com/h", "max_in_flight": 5},
    )
    assert response.status_code == 400 and "no user name or password" in response.text


def test_an_instance_filter_takes_ids_names_and_cloud_elements_ids(signed_in, make_instance):
    one = make_instance("Alpha", remote_id=77)
    two = make_instance("Beta")
    three = make_instance("Gamma")
    destination = make_destination(
        signed_in, "https://app.example.com/h", instance_list=f"77\nBeta\n{three.uuid}"
    )
    assert set(destination.instances.all()) == {one, two, three}
    form = signed_in.get(reverse("forwarding:edit", args=[destination.pk])).text
    assert str(one.uuid) in form


def test_pause_resume_and_a_test_delivery(signed_in, listener):
    destination = make_destination(signed_in, listener.url)
    signed_in.post(reverse("forwarding:pause", args=[destination.pk]))
    destination.refresh_from_db()
    assert destination.is_paused and "Paused by alice" in destination.paused_reason
    assert "Paused" in signed_in.get(destination.get_absolute_url()).text

    signed_in.post(reverse("forwarding:resume", args=[destination.pk]))
    destination.refresh_from_db()
    assert not destination.is_paused

    response = signed_in.post(reverse("forwarding:test", args=[destination.pk]), follow=True)
    assert "Test delivered: 127.0.0.1 answered 200" in response.text
    headers, body = listener.requests[-1]
    assert Webhook(destination.signing_secret).verify(body, headers)["type"] == "destination.test"

    listener.status = 500
    response = signed_in.post(reverse("forwarding:test", args=[destination.pk]), follow=True)
    assert "Test not delivered: Answered 500." in response.text


def test_the_secret_is_revealed_after_the_password_and_rotated(signed_in, operator):
    operator.set_password(PASSWORD)
    operator.save()
    signed_in.force_login(operator)
    destination = make_destination(signed_in, "https://app.example.com/h")
    url = reverse("forwarding:reveal", args=[destination.pk])
    asked = signed_in.post(url)
    assert "needs your password again" in asked.text
    assert destination.signing_secret not in asked.text
    wrong = signed_in.post(url, {"password": "nope"})
    assert wrong.status_code in (400, 403) and destination.signing_secret not in wrong.text
    shown = signed_in.post(url, {"password": PASSWORD})
    assert destination.signing_secret in shown.text
    assert (
        "no-store" in shown.headers["Cache-Control"]
        or "max-age=0" in shown.headers["Cache-Control"]
    )

    old = destination.signing_secret
    signed_in.post(reverse("forwarding:rotate", args=[destination.pk]))
    destination.refresh_from_db()
    assert destination.signing_secret != old and destination.previous_signing_secret == old
    assert "the previous one signs too" in signed_in.get(destination.get_absolute_url()).text


def test_resend_from_the_event_page(signed_in, instance, listener):
    destination = make_destination(signed_in, listener.url)
    deliver(signed_in, instance, message_body("evt-2"))
    sender.forward_due(concurrency=1)
    event = instance.events.get()
    response = signed_in.post(
        reverse("forwarding:resend", args=[instance.uuid, event.pk]),
        {"destination": destination.pk},
        follow=True,
    )
    assert "Queued for “Our app”" in response.text
    assert Delivery.objects.get().state == Delivery.State.PENDING
    sender.forward_due(concurrency=1)
    assert len(listener.requests) == 2
    assert listener.requests[0][0]["webhook-id"] == listener.requests[1][0]["webhook-id"]
    page = signed_in.get(event.get_absolute_url()).text
    assert page.count('class="attempt"') == 2
    bad = signed_in.post(
        reverse("forwarding:resend", args=[instance.uuid, event.pk]), {"destination": "x"}
    )
    assert bad.status_code == 404


def test_replay_starts_a_job(signed_in, listener):
    destination = make_destination(signed_in, listener.url)
    response = signed_in.post(
        reverse("forwarding:replay", args=[destination.pk]),
        {"since": "2026-01-01T00:00", "until": "2026-02-01T00:00", "which": "all"},
    )
    job = Job.objects.get(kind=Job.Kind.REPLAY)
    assert response.status_code == 302 and response.url == job.get_absolute_url()
    assert job.scope["destination"] == destination.pk and job.scope["which"] == "all"
    backwards = signed_in.post(
        reverse("forwarding:replay", args=[destination.pk]),
        {"since": "2026-02-01T00:00", "until": "2026-01-01T00:00", "which": "all"},
        follow=True,
    )
    assert "must be before" in backwards.text
    assert Job.objects.filter(kind=Job.Kind.REPLAY).count() == 1


def test_delete_hides_it_and_sends_nothing_more(signed_in, instance, listener):
    destination = make_destination(signed_in, listener.url)
    signed_in.post(reverse("forwarding:delete", args=[destination.pk]))
    assert signed_in.get(destination.get_absolute_url()).status_code == 404
    deliver(signed_in, instance, message_body("evt-3"))
    assert not Delivery.objects.exists()


def test_who_may_see_and_change_destinations(client, viewer, listener, operator):
    destination = Destination.objects.create(name="App", url=listener.url)
    client.force_login(viewer)
    assert client.get(reverse("forwarding:index")).status_code == 403
    viewer.user_permissions.add(Permission.objects.get(codename="view_destination"))
    viewer = User.objects.get(pk=viewer.pk)
    client.force_login(viewer)
    assert client.get(reverse("forwarding:index")).status_code == 200
    page = client.get(destination.get_absolute_url()).text
    assert "Send a test" not in page and "Reveal" not in page
    for name in ("pause", "test", "rotate", "reveal", "delete"):
        assert client.post(reverse(f"forwarding:{name}", args=[destination.pk])).status_code == 403
    assert not listener.requests


def test_an_alert_channel_may_be_told_of_paused_destinations_only(admin_client):
    form = admin_client.get(reverse("admin:alerts_channel_add")).text
    assert 'value="destination_paused"' in form and "Forwarding destination paused" in form
