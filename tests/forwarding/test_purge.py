"""The retention purge (`purge_events`) deletes old events together with their forwarding
record, deliveries and attempts, and keeps the recent ones' whole."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from instances.events.models import EventNotification
from instances.events.purge import purge_events
from instances.forwarding import sender
from instances.forwarding.models import Attempt, Delivery
from tests.forwarding.helpers import Reply, store

pytestmark = pytest.mark.django_db


def test_old_events_go_with_their_deliveries_and_attempts(instance, listener, make_destination):
    first = make_destination(listener.url("/first"), "First app")
    second = make_destination(listener.url("/second"), "Second app")
    now = timezone.now()
    old = [store(instance, now - timedelta(days=days)) for days in (40, 33, 31.5)]
    recent = [store(instance, now - timedelta(days=days)) for days in (28, 0)]
    # Two attempts each: a 503, then delivered.
    listener.answer(*[Reply(503)] * 5, then=Reply(200), path="/first")
    listener.answer(*[Reply(503)] * 5, then=Reply(200), path="/second")
    assert sender.forward_due(now=now, concurrency=1) == {"retry": 10}
    assert sender.forward_due(now=now + timedelta(hours=1), concurrency=1) == {"delivered": 10}
    assert (Delivery.objects.count(), Attempt.objects.count()) == (10, 20)
    kept_attempts = set(Attempt.objects.filter(delivery__event__in=recent).values_list("pk"))

    deleted, _ = purge_events(days=30, batch_size=2)

    assert deleted == 3
    assert set(EventNotification.objects.values_list("pk", flat=True)) == {e.pk for e in recent}
    assert not Delivery.objects.filter(event_id__in=[e.pk for e in old]).exists()
    assert Delivery.objects.count() == 4
    assert {d.destination_id for d in Delivery.objects.all()} == {first.pk, second.pk}
    assert set(Attempt.objects.values_list("pk")) == kept_attempts
    assert Attempt.objects.count() == 8
    # The destinations stay.
    assert first.deliveries.count() == second.deliveries.count() == 2
