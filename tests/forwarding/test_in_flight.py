"""A slow destination has at most its `max_in_flight` requests open at once (measured at the
listener), also with two forwarders running together, while another destination is served at
once beside it: one slow app holds only its own share of the threads."""

from __future__ import annotations

import threading

import pytest
from django.db import connection
from django.utils import timezone

from instances.forwarding import sender
from instances.forwarding.models import Delivery
from tests.forwarding.helpers import Reply, store

# The forwarder's threads have their own connections: they must see committed rows.
pytestmark = pytest.mark.django_db(transaction=True)
SLOW = 0.4
EVENTS = 6


@pytest.fixture
def two_destinations(instance, listener, make_destination):
    slow = make_destination(listener.url("/slow"), "Slow app", max_in_flight=2)
    fast = make_destination(listener.url("/fast"), "Fast app", max_in_flight=10)
    listener.answer(then=Reply(200, delay=SLOW), path="/slow")
    listener.answer(then=Reply(200), path="/fast")
    now = timezone.now()
    for _ in range(EVENTS):
        store(instance, now)
    return slow, fast


def check(listener, slow, fast) -> None:
    slow_requests, fast_requests = listener.to("/slow"), listener.to("/fast")
    assert len(slow_requests) == len(fast_requests) == EVENTS
    # Never more than two open at the slow app, and two indeed (the limit is used).
    assert listener.peak["/slow"] == 2
    # Every event reached the fast app before the slow app had answered its first two.
    first_slow = min(request.at for request in slow_requests)
    assert max(request.at for request in fast_requests) < first_slow + SLOW
    # The slow one took its rounds of two.
    assert max(r.at for r in slow_requests) - first_slow >= SLOW * (EVENTS / 2 - 1) * 0.9
    states = Delivery.objects.values_list("destination_id", "state")
    assert sorted(states) == sorted(
        [(slow.pk, "delivered")] * EVENTS + [(fast.pk, "delivered")] * EVENTS
    )


def test_a_slow_destination_keeps_to_its_limit_and_the_other_is_served_at_once(
    listener, two_destinations
):
    slow, fast = two_destinations

    outcomes = sender.forward_due(now=timezone.now(), concurrency=8)

    assert outcomes == {"delivered": 2 * EVENTS}
    check(listener, slow, fast)


def test_the_limit_holds_across_two_forwarders(listener, two_destinations):
    slow, fast = two_destinations
    now = timezone.now()
    results: list[dict] = []

    def forwarder() -> None:
        try:
            results.append(sender.forward_due(now=now, concurrency=8))
        finally:
            connection.close()

    threads = [threading.Thread(target=forwarder) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert sum(r.get("delivered", 0) for r in results) == 2 * EVENTS
    check(listener, slow, fast)
