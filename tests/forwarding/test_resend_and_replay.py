"""Resend: a delivered event is sent again, as a new attempt with the same `webhook-id`.
Replay: a window's events are queued again by a job (run by the job engine) with exact
progress; "failed" re-queues only those not delivered (failed, refused, never sent), "all"
every one; events outside the window, or that the destination's filters exclude, are not
sent."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from instances.forwarding import outbox, replay, sender, services
from instances.forwarding.models import Delivery
from instances.jobs import engine
from instances.jobs.models import Job
from instances.models import ElementInstance
from tests.forwarding.helpers import Reply, receive, store

pytestmark = pytest.mark.django_db


def test_resending_a_delivered_event_is_a_new_attempt_with_the_same_webhook_id(
    client, instance, listener, make_destination
):
    destination = make_destination(listener.url())
    stored, _ = receive(client, instance)
    sender.forward_due(now=timezone.now(), concurrency=1)
    delivery = destination.deliveries.get()
    assert delivery.state == "delivered"

    again = services.resend(event=stored, destination=destination)
    assert (again.pk, again.state, again.finished_at) == (delivery.pk, "pending", None)
    assert sender.forward_due(now=timezone.now(), concurrency=1) == {"delivered": 1}

    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts) == ("delivered", 2)
    assert list(delivery.attempt_log.order_by("number").values_list("number", "outcome")) == [
        (1, "delivered"),
        (2, "delivered"),
    ]
    first, second = listener.received
    assert first.webhook_id == second.webhook_id and first.body == second.body


def test_resend_to_a_destination_it_never_went_to_and_not_to_a_deleted_one(
    client, instance, listener, make_destination
):
    stored, _ = receive(client, instance)
    later = make_destination(listener.url("/later"), "Made later")
    assert not later.deliveries.exists()

    services.resend(event=stored, destination=later)
    assert sender.forward_due(now=timezone.now(), concurrency=1) == {"delivered": 1}
    assert len(listener.to("/later")) == 1

    services.delete(later)
    later.refresh_from_db()
    with pytest.raises(services.ForwardingError):
        services.resend(event=stored, destination=later)


def by_event(requests) -> list[int]:
    return sorted(request.json["data"]["event_id"] for request in requests)


def run(job: Job) -> Job:
    assert engine.run_job(job.pk) == "done"
    job.refresh_from_db()
    return job


def test_a_replay_requeues_the_windows_undelivered_events_or_all_of_them(
    instance, listener, make_destination, make_instance, operator, settings
):
    now = timezone.now()
    since, until = now - timedelta(hours=3), now - timedelta(hours=1)
    # Stored before the destination existed: never sent to it.
    missing = store(instance, since + timedelta(minutes=30))
    destination = make_destination(listener.url(), tags=["finance"])
    # Another instance's event in the window, which the destination's tag filter excludes.
    untagged = make_instance("Untagged", status=ElementInstance.Status.ACTIVE, remote_id=2022)
    excluded = store(untagged, since + timedelta(minutes=40))
    before = store(instance, since - timedelta(minutes=1))
    delivered = store(instance, since + timedelta(minutes=10))
    failed = store(instance, since + timedelta(minutes=20))
    refused = store(instance, until - timedelta(minutes=10))
    after = store(instance, until + timedelta(minutes=1))
    # Sent in the order queued: each gets its answer (no retry window: a 503 is failed at once).
    settings.FORWARDING_RETRY_HOURS = 0
    settings.DESTINATION_DISABLE_AFTER_HOURS = 1000
    listener.answer(Reply(503), Reply(200), Reply(503), Reply(404), Reply(404), then=Reply(200))
    sender.forward_due(now=now, concurrency=1)
    states = dict(destination.deliveries.values_list("event_id", "state"))
    assert states == {
        before.pk: "failed",
        delivered.pk: "delivered",
        failed.pk: "failed",
        refused.pk: "refused",
        after.pk: "refused",
    }
    assert not Delivery.objects.filter(event__in=[missing, excluded]).exists()
    settings.FORWARDING_RETRY_HOURS = 72
    window = {"destination": destination, "since": since, "until": until, "actor": operator}
    sent_before = len(listener.received)

    job = run(replay.start_replay(which="failed", **window))

    assert job.kind == Job.Kind.REPLAY and job.status == Job.Status.DONE
    # The window's events the destination's filters match: delivered, failed, refused, missing.
    assert (job.total, job.done, job.summary) == (4, 4, {"queued": 3})
    assert sender.forward_due(now=timezone.now(), concurrency=1) == {"delivered": 3}
    replayed = listener.received[sent_before:]
    assert by_event(replayed) == sorted([failed.pk, refused.pk, missing.pk])
    states = dict(destination.deliveries.values_list("event_id", "state"))
    assert states == {
        before.pk: "failed",
        delivered.pk: "delivered",
        failed.pk: "delivered",
        refused.pk: "delivered",
        missing.pk: "delivered",
        after.pk: "refused",
    }
    sent_before = len(listener.received)

    job = run(replay.start_replay(which="all", **window))

    assert (job.status, job.total, job.done, job.summary) == ("done", 4, 4, {"queued": 4})
    assert sender.forward_due(now=timezone.now(), concurrency=1) == {"delivered": 4}
    replayed = listener.received[sent_before:]
    assert by_event(replayed) == sorted([delivered.pk, failed.pk, refused.pk, missing.pk])
    # Outside the window, or not matching: never sent by a replay.
    assert before.pk not in by_event(listener.received[5:])
    assert after.pk not in by_event(listener.received[5:])
    assert excluded.pk not in by_event(listener.received)
    assert destination.deliveries.get(event=before).state == "failed"
    assert destination.deliveries.get(event=after).state == "refused"


def test_a_replay_selects_what_the_receiver_queues_for_a_tag_beyond_ascii(
    listener, make_destination, make_instance, operator
):
    """The replay's tag filter (SQL) must agree with the receiver's (`outbox.matches`): an
    instance tagged "ÉQUIPE" matches a destination filtered on "équipe" in both."""
    team = make_instance(
        "Team", status=ElementInstance.Status.ACTIVE, remote_id=4044, tags=["ÉQUIPE"]
    )
    now = timezone.now()
    missing = store(team, now - timedelta(minutes=30))  # before the destination: never sent
    destination = make_destination(listener.url(), tags=["équipe"])
    # The receiver would queue it for this destination (its rule, and its path).
    assert outbox.matches(
        destination,
        element_key=team.element_key,
        tag_names=["ÉQUIPE"],
        instance_id=team.pk,
        instance_ids=None,
        event_types=["CREATED"],
    )
    assert destination.deliveries.filter(event=store(team, now)).exists()

    job = run(
        replay.start_replay(
            destination=destination,
            since=now - timedelta(hours=1),
            until=now - timedelta(minutes=1),
            which="failed",
            actor=operator,
        )
    )

    assert (job.total, job.done, job.summary) == (1, 1, {"queued": 1})
    assert sender.forward_due(now=timezone.now(), concurrency=1) == {"delivered": 2}
    assert missing.pk in by_event(listener.received)
