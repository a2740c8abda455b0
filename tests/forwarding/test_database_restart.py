"""The database restarting under a running forwarder (PostgreSQL: `pg_terminate_backend` on its
connections, as a restart or a failover does) loses nothing: the forwarder logs the outage once,
waits, carries on, and what it could not record is sent again once its lease ran out. Every
event reaches the app at least once. (SQLite has no server connection to lose.)"""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from instances.forwarding import sender
from instances.forwarding.models import Delivery
from tests.forwarding.helpers import Reply, store
from tests.job_helpers import ROOT, wait_for, worker_env

pytestmark = pytest.mark.django_db(transaction=True)
EVENTS = 120


def _kill_backends(name: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE application_name = %s",
            [name],
        )
        return cursor.fetchone()[0]


def _delivered() -> int:
    return Delivery.objects.filter(state=Delivery.State.DELIVERED).count()


if connection.vendor == "postgresql":

    def test_a_database_restart_under_the_forwarder_loses_nothing(
        instance, listener, make_destination
    ):
        make_destination(listener.url(), max_in_flight=4)
        listener.answer(then=Reply(200, delay=0.02))
        events = [store(instance) for _ in range(EVENTS)]
        env = worker_env("http://127.0.0.1", FORWARDING_POLL_SECONDS="0.1")
        env["DATABASE_URL"] += "?application_name=restart-forwarder"
        forwarder = subprocess.Popen(
            [sys.executable, "manage.py", "forward", "--concurrency", "4"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            wait_for(lambda: _delivered() >= 20, timeout=60, every=0.01)
            assert _kill_backends("restart-forwarder") >= 1
            # It carries on by itself with what it can claim.
            wait_for(lambda: _delivered() >= EVENTS - 8, timeout=90, every=0.1)
            assert forwarder.poll() is None, "the forwarder is still running"
        finally:
            forwarder.terminate()
            output, _ = forwarder.communicate(timeout=60)
        # It noticed, wherever the connection was lost: claiming, or recording the answers.
        assert any(
            said in output
            for said in ("the database is unreachable", "lost while recording", "not recorded")
        ), output

        # What was in flight when the connections died is sent again once its lease runs out.
        later = timezone.now() + sender.lease() + timedelta(seconds=1)
        sender.forward_due(now=later, concurrency=1)
        assert _delivered() == EVENTS, output
        received = {request.json["data"]["event_id"] for request in listener.received}
        assert received == {event.pk for event in events}
