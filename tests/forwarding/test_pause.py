"""A destination whose every attempt failed for DESTINATION_DISABLE_AFTER_HOURS is paused, with
an open incident told by the alert channels (a webhook channel, at the listener); while paused
nothing is sent to it but events still queue; resuming sends what queued meanwhile and resolves
the incident (told too)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from instances.alerts import dispatch
from instances.alerts import services as alerts
from instances.alerts.models import Channel
from instances.forwarding import sender, services
from instances.health.models import Incident
from tests.forwarding.helpers import Reply, receive, store

pytestmark = pytest.mark.django_db


def tell() -> list[str]:
    """The alert dispatch, and what the task worker does with what it queued; the statuses.
    On the wall clock, as the alerts run (the forwarding clock here is the test's)."""
    return [alerts.send(pk).status for pk in dispatch.dispatch()]


def test_a_destination_failing_for_a_day_is_paused_alerted_and_resumed(
    client, instance, listener, make_destination, settings
):
    settings.DESTINATION_DISABLE_AFTER_HOURS = 24
    destination = make_destination(listener.url(), "Orders app")
    Channel.objects.create(name="On call", kind="webhook", target=listener.url("/alerts"))
    listener.answer(then=Reply(503))
    start = timezone.now()
    store(instance, start)
    delivery = destination.deliveries.get()

    # Retried with the test's clock until the destination is paused.
    now, times = start, []
    while destination.paused_at is None:
        assert sender.forward_due(now=now, concurrency=1) == {"retry": 1}
        times.append(now)
        destination.refresh_from_db()
        delivery.refresh_from_db()
        assert len(times) < 40
        now = delivery.next_attempt_at
    paused_at = times[-1]

    # Paused by the first failure past 24 hours of failing, not before.
    assert times[-2] < start + timedelta(hours=24) <= paused_at
    assert destination.paused_at == paused_at and destination.failing_since == start
    assert "every delivery failed for more than 24 hours" in destination.paused_reason
    incident = Incident.objects.get(subject=f"destination:{destination.pk}")
    assert incident.is_open and incident.kind == services.PAUSED_KIND
    assert incident.opened_at == paused_at
    assert "Orders app" in incident.title and "127.0.0.1" in incident.title
    assert incident.subject_url == destination.get_absolute_url()

    # The alert channel is told.
    assert tell() == ["sent"]
    [opened] = listener.to("/alerts")
    assert opened.json["type"] == "incident.opened"
    assert opened.json["incident"]["kind"] == "destination_paused"
    assert opened.json["incident"]["title"] == incident.title

    # Paused: a new event still queues, nothing is sent, however late.
    sent = len(listener.to("/hooks/app"))
    queued, _ = receive(client, instance)
    waiting = destination.deliveries.get(event=queued)
    assert (waiting.state, waiting.attempts) == ("pending", 0)
    for later in (timedelta(hours=1), timedelta(hours=7), timedelta(hours=30)):
        assert sender.forward_due(now=paused_at + later, concurrency=1) == {}
    assert len(listener.to("/hooks/app")) == sent
    assert services.pause_if_failing_too_long(destination.pk, now=paused_at) is False
    assert Incident.objects.filter(subject=f"destination:{destination.pk}").count() == 1

    # Resumed: what queued meanwhile goes now, the waiting retry too; the incident resolves.
    listener.answer(then=Reply(200))
    resumed_at = paused_at + timedelta(hours=2)
    assert delivery.next_attempt_at > resumed_at
    assert services.resume(destination, now=resumed_at) == 2
    assert destination.paused_at is None and destination.failing_since is None
    incident.refresh_from_db()
    assert incident.resolved_at == resumed_at

    assert sender.forward_due(now=resumed_at, concurrency=1) == {"delivered": 2}

    assert sorted(destination.deliveries.values_list("state", flat=True)) == ["delivered"] * 2
    to_app = listener.to("/hooks/app")
    assert len(to_app) == sent + 2
    assert {r.json["data"]["event_id"] for r in to_app[-2:]} == {delivery.event_id, queued.pk}
    assert tell() == ["sent"]
    assert [r.json["type"] for r in listener.to("/alerts")] == [
        "incident.opened",
        "incident.resolved",
    ]
