"""A failed attempt (5xx, 408, 429, a refused connection, a timeout) is recorded and retried
with exponential backoff from 30 s, doubling, at most 6 hours apart, with ±20 % jitter,
honouring Retry-After, until FORWARDING_RETRY_HOURS after the first attempt; then it is given
up. The clock is the test's: `forward_due(now=...)`."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from instances.forwarding import sender
from instances.forwarding.models import Delivery
from tests.forwarding.helpers import Reply, closed_port_url, receive, store

pytestmark = pytest.mark.django_db
SIX_HOURS = timedelta(hours=6)


def attempts(delivery: Delivery) -> list:
    return list(delivery.attempt_log.order_by("number"))


def test_a_500_then_a_200_is_two_recorded_attempts_then_delivered(
    client, instance, listener, make_destination
):
    destination = make_destination(listener.url())
    listener.answer(Reply(500, body=b'{"error": "database down"}'), then=Reply(200, body=b"ok!"))
    receive(client, instance)
    now = timezone.now()

    assert sender.forward_due(now=now, concurrency=1) == {"retry": 1}
    delivery = destination.deliveries.get()
    assert (delivery.state, delivery.attempts, delivery.last_status) == ("pending", 1, 500)
    assert delivery.last_error == "Answered 500."
    assert delivery.first_attempt_at == now and delivery.finished_at is None
    # Not due again before its wait.
    assert sender.forward_due(now=now + timedelta(seconds=23), concurrency=1) == {}
    assert len(listener.received) == 1

    retry_at = delivery.next_attempt_at
    assert timedelta(seconds=24) <= retry_at - now <= timedelta(seconds=36)
    assert sender.forward_due(now=retry_at, concurrency=1) == {"delivered": 1}

    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts, delivery.last_status) == ("delivered", 2, 200)
    assert delivery.last_error == "" and delivery.finished_at is not None
    first, second = attempts(delivery)
    assert (first.number, first.status, first.outcome) == (1, 500, "retry")
    assert first.response == '{"error": "database down"}'
    assert first.error == "Answered 500."
    assert first.started_at == now and first.next_attempt_at == retry_at
    assert first.duration_ms is not None and 0 <= first.duration_ms < 5000
    assert (second.number, second.status, second.outcome) == (2, 200, "delivered")
    assert second.response == "ok!" and second.error == "" and second.next_attempt_at is None
    assert second.duration_ms is not None
    assert len(listener.received) == 2
    destination.refresh_from_db()
    assert destination.failing_since is None and destination.last_success_at is not None


def retry_until_the_end(instance, listener, make_destination, settings):
    """One delivery to an app answering 503, followed retry by retry with the test's clock
    until it is no longer pending; returns it, its start and its attempts' waits."""
    settings.FORWARDING_RETRY_HOURS = 72
    # Not paused on the way (that is test_pause.py's): this follows one delivery's retries.
    settings.DESTINATION_DISABLE_AFTER_HOURS = 1000
    destination = make_destination(listener.url())
    listener.answer(then=Reply(503))
    start = timezone.now()
    store(instance, start)
    delivery = destination.deliveries.get()
    now = start
    for _ in range(100):
        if delivery.state != "pending":
            break
        sender.forward_due(now=now, concurrency=1)
        delivery.refresh_from_db()
        now = delivery.next_attempt_at or now
    else:
        raise AssertionError("still retried after 100 attempts")
    times = [attempt.started_at for attempt in attempts(delivery)]
    waits = [later - earlier for earlier, later in zip(times, times[1:], strict=False)]
    return delivery, start, waits


def test_the_waits_double_from_30_seconds_within_the_jitter(
    instance, listener, make_destination, settings
):
    delivery, start, waits = retry_until_the_end(instance, listener, make_destination, settings)

    assert len(waits) >= 15
    # Every wait but the last (cut short by the window): 30 s, 1, 2, 4 minutes … 6 hours, ±20 %.
    for n, wait in enumerate(waits[:-1], start=1):
        planned = min(timedelta(seconds=30) * 2 ** (n - 1), SIX_HOURS)
        assert planned * 0.8 <= wait <= planned * 1.2, (n, wait)
    assert timedelta(seconds=24) <= waits[0] <= timedelta(seconds=36)
    assert all(
        a.next_attempt_at == b.started_at
        for a, b in zip(attempts(delivery), attempts(delivery)[1:], strict=False)
    )


def test_no_wait_is_longer_than_six_hours(instance, listener, make_destination, settings):
    """README: "30 s, 1, 2, 4 minutes … at most 6 hours apart, ±20 %"."""
    _, _, waits = retry_until_the_end(instance, listener, make_destination, settings)

    assert max(waits) <= SIX_HOURS, [str(w) for w in waits if w > SIX_HOURS]
    # The same from the backoff itself, over many draws of the jitter.
    longest = max(sender.backoff(attempt) for attempt in range(10, 40) for _ in range(20))
    assert longest <= SIX_HOURS, longest


def test_it_gives_up_72_hours_after_the_first_attempt(
    instance, listener, make_destination, settings
):
    delivery, start, waits = retry_until_the_end(instance, listener, make_destination, settings)

    log = attempts(delivery)
    assert len(listener.received) == len(log) == delivery.attempts == len(waits) + 1
    assert log[0].started_at == start == delivery.first_attempt_at
    # Retried within the window; the first attempt at or past its end gives up.
    window_end = start + timedelta(hours=72)
    assert all(a.started_at < window_end for a in log[:-1])
    assert window_end <= log[-1].started_at <= window_end + SIX_HOURS * 1.2
    assert [a.outcome for a in log] == ["retry"] * (len(log) - 1) + ["gave_up"]
    assert all(a.status == 503 and a.error == "Answered 503." for a in log)
    assert log[-1].next_attempt_at is None
    assert (delivery.state, delivery.finished_at) == ("failed", log[-1].started_at)
    assert delivery.next_attempt_at is None and delivery.last_status == 503
    # Never sent again, however late.
    assert sender.forward_due(now=start + timedelta(days=30), concurrency=1) == {}
    assert len(listener.received) == len(log)


def test_a_429_with_retry_after_is_not_retried_before_it(instance, listener, make_destination):
    destination = make_destination(listener.url())
    listener.answer(Reply(429, headers={"Retry-After": "120"}), then=Reply(200))
    start = timezone.now()
    store(instance, start)

    assert sender.forward_due(now=start, concurrency=1) == {"retry": 1}
    delivery = destination.deliveries.get()
    [first] = attempts(delivery)
    assert (first.status, first.outcome, first.error) == (429, "retry", "Answered 429.")
    assert delivery.next_attempt_at == first.next_attempt_at == start + timedelta(seconds=120)
    assert sender.forward_due(now=start + timedelta(seconds=119), concurrency=1) == {}
    assert len(listener.received) == 1
    assert sender.forward_due(now=start + timedelta(seconds=120), concurrency=1) == {"delivered": 1}
    assert len(listener.received) == 2


@pytest.mark.parametrize("status", [408, 502, 503, 504])
def test_other_retried_statuses(status, instance, listener, make_destination):
    destination = make_destination(listener.url())
    listener.answer(Reply(status), then=Reply(204, body=b""))
    start = timezone.now()
    store(instance, start)

    assert sender.forward_due(now=start, concurrency=1) == {"retry": 1}
    delivery = destination.deliveries.get()
    assert sender.forward_due(now=delivery.next_attempt_at, concurrency=1) == {"delivered": 1}
    assert [(a.status, a.outcome) for a in attempts(delivery)] == [
        (status, "retry"),
        (204, "delivered"),
    ]


def test_a_refused_connection_is_retried_with_its_error_recorded(
    instance, listener, make_destination
):
    destination = make_destination(closed_port_url())
    start = timezone.now()
    store(instance, start)

    assert sender.forward_due(now=start, concurrency=1) == {"retry": 1}

    delivery = destination.deliveries.get()
    [first] = attempts(delivery)
    assert (first.status, first.outcome, first.error) == (None, "retry", "Could not connect.")
    assert delivery.state == "pending" and delivery.last_error == "Could not connect."
    assert timedelta(seconds=24) <= delivery.next_attempt_at - start <= timedelta(seconds=36)
    # Once the app listens there, the retry goes through.
    type(destination).objects.filter(pk=destination.pk).update(url=listener.url())
    assert sender.forward_due(now=delivery.next_attempt_at, concurrency=1) == {"delivered": 1}
    assert [a.outcome for a in attempts(delivery)] == ["retry", "delivered"]


def test_a_timeout_is_retried_with_its_error_recorded(
    instance, listener, make_destination, settings
):
    settings.FORWARDING_TIMEOUT_SECONDS = 1
    destination = make_destination(listener.url())
    listener.answer(Reply(200, delay=2.5), then=Reply(200))
    start = timezone.now()
    store(instance, start)

    assert sender.forward_due(now=start, concurrency=1) == {"retry": 1}

    delivery = destination.deliveries.get()
    [first] = attempts(delivery)
    assert (first.status, first.outcome) == (None, "retry")
    assert first.error == "No answer within 1 s."
    assert 1000 <= first.duration_ms < 2400
    assert delivery.state == "pending"
    assert sender.forward_due(now=delivery.next_attempt_at, concurrency=1) == {"delivered": 1}
    assert len(listener.received) == 2
