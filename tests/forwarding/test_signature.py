"""A received event is forwarded as JSON signed with Standard Webhooks: it verifies with the
destination's secret, carries the instance and the original notification, keeps its
`webhook-id` on a retry, a resend and a replay (and to every destination), is signed with both
secrets for a day after a rotation, and a tampered body does not verify."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from instances.forwarding import replay, sender, services
from instances.forwarding.message import EVENT_TYPE
from instances.jobs import engine
from instances.jobs.models import Job
from tests.events.receiver_helpers import event
from tests.forwarding.helpers import Reply, receive

pytestmark = pytest.mark.django_db


def verify(secret: str, request) -> dict:
    return Webhook(secret).verify(request.body, request.headers)


def test_a_received_event_is_forwarded_signed_with_the_instance_and_the_notification(
    client, instance, listener, make_destination
):
    destination = make_destination(listener.url())
    events = [event("UPDATED", "/Reports/q3.pdf"), event("DELETED", "/Reports/q2.pdf")]
    stored, original = receive(client, instance, events=events)

    assert sender.forward_due(now=timezone.now(), concurrency=1) == {"delivered": 1}

    [request] = listener.received
    assert request.method == "POST"
    assert request.headers["content-type"] == "application/json"
    assert request.webhook_id.startswith("msg_")
    assert abs(int(request.headers["webhook-timestamp"]) - timezone.now().timestamp()) < 60
    payload = verify(destination.signing_secret, request)
    assert payload["type"] == EVENT_TYPE == "notification.received"
    data = payload["data"]
    assert data["instance"] == {
        "id": str(instance.uuid),
        "name": "Finance Dropbox",
        "element": "dropbox",
        "cloud_elements_id": 1011,
        "tags": ["EU", "Finance"],
    }
    # The notification as Cloud Elements sent it, and the events read from it.
    assert data["notification"] == json.loads(original)
    assert data["event_id"] == stored.pk
    assert data["signature"] == "verified"
    assert [(e["eventType"], e["objectId"]) for e in data["events"]] == [
        ("UPDATED", "/Reports/q3.pdf"),
        ("DELETED", "/Reports/q2.pdf"),
    ]
    # Another secret does not verify it.
    other = make_destination(listener.url("/other"), "Other app")
    with pytest.raises(WebhookVerificationError):
        verify(other.signing_secret, request)


def test_a_tampered_body_or_signature_does_not_verify(client, instance, listener, make_destination):
    destination = make_destination(listener.url())
    receive(client, instance)
    sender.forward_due(now=timezone.now(), concurrency=1)
    [request] = listener.received
    hook = Webhook(destination.signing_secret)
    assert hook.verify(request.body, request.headers)

    tampered = request.body.replace(b"Finance Dropbox", b"Finance Dropbax")
    assert tampered != request.body
    with pytest.raises(WebhookVerificationError):
        hook.verify(tampered, request.headers)
    with pytest.raises(WebhookVerificationError):
        hook.verify(request.body + b" ", request.headers)
    with pytest.raises(WebhookVerificationError):
        hook.verify(request.body, {**request.headers, "webhook-id": "msg_someone_else"})
    with pytest.raises(WebhookVerificationError):
        stamp = str(int(request.headers["webhook-timestamp"]) + 1)
        hook.verify(request.body, {**request.headers, "webhook-timestamp": stamp})


def test_the_webhook_id_is_the_same_on_a_retry_a_resend_a_replay_and_to_every_destination(
    client, instance, listener, make_destination, operator
):
    destination = make_destination(listener.url())
    second = make_destination(listener.url("/second"), "Second app")
    listener.answer(Reply(500))
    stored, _ = receive(client, instance)
    now = timezone.now()

    sender.forward_due(now=now, concurrency=1)  # a 500 from the first, a 200 from the second
    delivery = destination.deliveries.get()
    assert delivery.state == "pending"
    sender.forward_due(now=delivery.next_attempt_at, concurrency=1)  # the retry
    services.resend(event=stored, destination=destination)
    sender.forward_due(now=timezone.now(), concurrency=1)
    job = replay.start_replay(
        destination=destination,
        since=now - timedelta(hours=1),
        until=now + timedelta(hours=1),
        which="all",
        actor=operator,
    )
    assert engine.run_job(job.pk) == "done"
    assert Job.objects.get(pk=job.pk).summary == {"queued": 1}
    sender.forward_due(now=timezone.now(), concurrency=1)

    first_app = listener.to("/hooks/app")
    assert len(first_app) == 4  # the first try, the retry, the resend, the replay
    [to_second] = listener.to("/second")
    ids = {request.webhook_id for request in [*first_app, to_second]}
    assert len(ids) == 1
    # The body is the same every time too, and each copy verifies.
    assert len({request.body for request in [*first_app, to_second]}) == 1
    for request in first_app:
        verify(destination.signing_secret, request)
    verify(second.signing_secret, to_second)
    assert list(delivery.attempt_log.order_by("number").values_list("number", "outcome")) == [
        (1, "retry"),
        (2, "delivered"),
        (3, "delivered"),
        (4, "delivered"),
    ]


def test_after_a_rotation_both_secrets_verify_for_a_day_then_only_the_new_one(
    client, instance, listener, make_destination
):
    destination = make_destination(listener.url())
    old_secret = destination.signing_secret
    stored, _ = receive(client, instance)
    sender.forward_due(now=timezone.now(), concurrency=1)
    assert len(listener.received[0].headers["webhook-signature"].split(" ")) == 1

    services.rotate_secret(destination)
    destination.refresh_from_db()
    new_secret = destination.signing_secret
    assert new_secret != old_secret and destination.previous_signing_secret == old_secret
    assert destination.previous_secret_expires_at - timezone.now() > timedelta(hours=23)
    services.resend(event=stored, destination=destination)
    sender.forward_due(now=timezone.now(), concurrency=1)

    rotated = listener.received[1]
    signatures = rotated.headers["webhook-signature"].split(" ")
    assert len(signatures) == 2 and all(s.startswith("v1,") for s in signatures)
    assert verify(new_secret, rotated)["data"]["event_id"] == stored.pk
    assert verify(old_secret, rotated)["data"]["event_id"] == stored.pk

    # Once the day is over, the previous secret signs no more.
    type(destination).objects.filter(pk=destination.pk).update(
        previous_secret_expires_at=timezone.now() - timedelta(seconds=1)
    )
    services.resend(event=stored, destination=destination)
    sender.forward_due(now=timezone.now(), concurrency=1)
    later = listener.received[2]
    assert len(later.headers["webhook-signature"].split(" ")) == 1
    verify(new_secret, later)
    with pytest.raises(WebhookVerificationError):
        verify(old_secret, later)
