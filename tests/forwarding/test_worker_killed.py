"""A forwarder (`manage.py forward`, a real process) killed with SIGKILL in the middle of a
delivery loses nothing: once its lease has run out the delivery is claimed and sent again, and
its attempt log shows the lost attempt as interrupted."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from datetime import timedelta

import pytest
from django.utils import timezone

from instances.forwarding import sender
from tests.forwarding.helpers import Reply, store
from tests.job_helpers import ROOT, worker_env

# The forwarder process reads the rows: they must be committed.
pytestmark = pytest.mark.django_db(transaction=True)


def test_a_delivery_in_flight_when_the_forwarder_is_killed_is_sent_again(
    instance, listener, make_destination
):
    destination = make_destination(listener.url())
    listener.answer(Reply(200, hold=True), then=Reply(200))  # the first is held, unanswered
    event = store(instance)
    env = worker_env("http://127.0.0.1", FORWARDING_POLL_SECONDS="0.1")
    forwarder = subprocess.Popen(
        [sys.executable, "manage.py", "forward", "--concurrency", "2"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        try:
            listener.wait_for(1, timeout=30)
        except AssertionError:
            forwarder.kill()
            output, _ = forwarder.communicate(timeout=10)
            raise AssertionError(f"the forwarder sent nothing:\n{output}") from None
        delivery = destination.deliveries.get()
        assert (delivery.state, delivery.attempts) == ("sending", 1)
        assert delivery.lease_until > timezone.now()
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(forwarder.pid, signal.SIGKILL)
        forwarder.wait(timeout=10)
    assert forwarder.returncode == -signal.SIGKILL
    listener.release.set()  # the app answers now, to nobody

    # Under its lease it is still someone's: not sent again yet.
    assert sender.forward_due(now=timezone.now(), concurrency=1) == {}
    assert len(listener.received) == 1
    # Once the lease ran out it is claimed again and delivered.
    later = delivery.lease_until + timedelta(seconds=1)
    assert sender.forward_due(now=later, concurrency=1) == {"delivered": 1}

    delivery.refresh_from_db()
    assert (delivery.event, delivery.state, delivery.attempts) == (event, "delivered", 2)
    log = list(delivery.attempt_log.order_by("number"))
    assert [(a.number, a.outcome) for a in log] == [(1, "interrupted"), (2, "delivered")]
    assert log[0].status is None and log[1].started_at == later
    assert "forwarder stopped" in log[0].error
    first, second = listener.received
    assert first.webhook_id == second.webhook_id and first.body == second.body
