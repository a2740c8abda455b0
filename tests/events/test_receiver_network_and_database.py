"""The receiver makes no outbound request, and answers 503 when its database fails (W7, W8).

Receiving touches nothing but the database: every way out to the network is refused in the test
and none is tried. A database failure, while finding the instance or while storing the
notification, gets 503 `Try again later.` so that Cloud Elements retries; the retry is stored.
"""

from __future__ import annotations

import http.client
import socket
import urllib.request

import pytest
import requests
from django.db import OperationalError, connection

from instances.events.models import EventNotification
from tests.events.receiver_helpers import deliver, message_body

pytestmark = pytest.mark.django_db


# --- No network, and database failures (W7, W8) --------------------------------------------------


def test_it_makes_no_outbound_request_while_receiving(client, instance, monkeypatch):
    attempts: list[str] = []

    def refuse(name):
        def fake(*args, **kwargs):
            attempts.append(name)
            raise AssertionError(f"outbound network call: {name}")

        return fake

    monkeypatch.setattr(requests.adapters.HTTPAdapter, "send", refuse("requests"))
    monkeypatch.setattr(urllib.request, "urlopen", refuse("urlopen"))
    monkeypatch.setattr(urllib.request.OpenerDirector, "open", refuse("opener"))
    monkeypatch.setattr(http.client.HTTPConnection, "connect", refuse("http.client"))
    monkeypatch.setattr(socket, "create_connection", refuse("socket"))

    response = deliver(client, instance, message_body("evt-offline"))

    assert response.status_code == 200
    assert attempts == []
    assert EventNotification.objects.count() == 1


def failing_event_inserts(message: str):
    """A database that refuses to store events (the fault injected at the driver's seam)."""

    def execute(run, sql, params, many, context):
        if sql.lstrip().startswith(("INSERT", "WITH")) and "instances_eventnotification" in sql:
            raise OperationalError(message)
        return run(sql, params, many, context)

    return connection.execute_wrapper(execute)


def test_a_database_failure_while_storing_answers_503(client, instance):
    with failing_event_inserts("server closed the connection unexpectedly"):
        response = deliver(client, instance, message_body("evt-db-down"))

    assert response.status_code == 503
    assert response.json() == {"error": "Try again later."}
    assert not EventNotification.objects.exists()


def test_a_database_failure_while_finding_the_instance_answers_503(client, instance):
    def fail_lookups(run, sql, params, many, context):
        if sql.lstrip().startswith("SELECT") and "instances_elementinstance" in sql:
            raise OperationalError("could not connect to server")
        return run(sql, params, many, context)

    with connection.execute_wrapper(fail_lookups):
        response = deliver(client, instance, message_body("evt-db-down"))

    assert response.status_code == 503
    assert not EventNotification.objects.exists()


def test_after_a_503_the_retry_is_stored(client, instance):
    body = message_body("evt-retry-after-503")

    with failing_event_inserts("database is locked"):
        first = deliver(client, instance, body)
    retry = deliver(client, instance, body)

    assert (first.status_code, retry.status_code) == (503, 200)
    assert EventNotification.objects.get().remote_event_id == "evt-retry-after-503"
