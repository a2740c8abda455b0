"""A 4xx other than 408/429, or a redirect, is refused after one attempt and never retried;
the same event's delivery to another destination goes on as if nothing happened."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from instances.forwarding import sender
from tests.forwarding.helpers import Reply, receive

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("status", "headers", "error"),
    [
        (400, {}, "Answered 400."),
        (404, {}, "Answered 404."),
        (410, {}, "Answered 410."),
        (301, {"Location": "/elsewhere"}, "Answered 301: redirects are not followed."),
    ],
)
def test_a_refusal_is_final_and_leaves_the_other_destination_alone(
    status, headers, error, client, instance, listener, make_destination, settings
):
    settings.DESTINATION_DISABLE_AFTER_HOURS = 1000  # the pause is test_pause.py's
    refusing = make_destination(listener.url("/refusing"), "Refusing app")
    healthy = make_destination(listener.url("/healthy"), "Healthy app")
    listener.answer(then=Reply(status, headers=headers, body=b"no such hook"), path="/refusing")
    listener.answer(Reply(503), then=Reply(200), path="/healthy")
    stored, _ = receive(client, instance)
    start = timezone.now()

    assert sender.forward_due(now=start, concurrency=1) == {"refused": 1, "retry": 1}

    refused = refusing.deliveries.get()
    assert (refused.event, refused.state, refused.attempts) == (stored, "refused", 1)
    assert (refused.last_status, refused.last_error) == (status, error)
    assert refused.next_attempt_at is None and refused.finished_at == start
    [attempt] = refused.attempt_log.all()
    assert (attempt.status, attempt.outcome, attempt.error) == (status, "refused", error)
    assert attempt.response == "no such hook" and attempt.next_attempt_at is None

    # The healthy destination's retry goes on; the refused one is never tried again.
    for later in (timedelta(minutes=5), timedelta(hours=12), timedelta(days=4)):
        sender.forward_due(now=start + later, concurrency=1)
    assert len(listener.to("/refusing")) == 1
    assert listener.to("/elsewhere") == []  # the redirect was not followed
    delivered = healthy.deliveries.get()
    assert (delivered.event, delivered.state, delivered.attempts) == (stored, "delivered", 2)
    assert len(listener.to("/healthy")) == 2
    refused.refresh_from_db()
    assert (refused.state, refused.attempts) == ("refused", 1)
    # A refusal is about one event: the destination is not counted as failing (no pause).
    refusing.refresh_from_db()
    assert refusing.failing_since is None and refusing.last_failure == error
