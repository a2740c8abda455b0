"""PostgreSQL keeps the receiver's two statements prepared; nothing else is prepared.

Parsing and planning the store again for every delivery took about three quarters of the
database's CPU per delivery (measured: 0.72 → 0.19 ms). psycopg prepares a statement bound
on the server once it has run `prepare_threshold` times on a connection (DATABASES' OPTIONS,
DATABASE_PREPARED_STATEMENTS). Django's own statements are bound on the client and never
prepared, so that pages behave the same behind any connection pooler.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from django.conf import settings
from django.db import connection

from instances.events import ingest
from instances.events.models import EventNotification
from instances.models import ElementInstance
from tests.events.receiver_helpers import KEY, deliver, message_body, with_key
from tests.lib.test_configuration import ROOT

ACTIVE = ElementInstance.Status.ACTIVE
THRESHOLD = 5  # psycopg's default, set in config/settings.py
# More deliveries than the threshold, with the cache off: both statements run each time.
DELIVERIES = THRESHOLD + 2


def prepared_statements() -> list[str]:
    """The text of each statement prepared on this connection (PostgreSQL's own view)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements ORDER BY prepare_time")
        return [" ".join(row[0].split()) for row in cursor.fetchall()]


@pytest.fixture
def instance(make_instance) -> ElementInstance:
    return with_key(make_instance("Prepared Dropbox", status=ACTIVE, remote_id=1011), KEY)


def deliver_many(client, instance, prefix: str) -> None:
    for n in range(DELIVERIES):
        assert deliver(client, instance, message_body(f"{prefix}-{n}")).status_code == 200


if connection.vendor == "postgresql":

    def test_the_receivers_statements_are_prepared_and_nothing_else(
        client, instance, operator, settings
    ):
        settings.WEBHOOK_RECEIVER_CACHE_SECONDS = 0
        ingest.forget_receivers()
        deliver_many(client, instance, "prepared")
        # Pages, the admin and the health check, as often: none of theirs is prepared.
        client.force_login(operator)
        for _ in range(DELIVERIES):
            for url in (
                "/healthz",
                "/instances/",
                f"/instances/{instance.uuid}/",
                "/admin/instances/elementinstance/",
            ):
                assert client.get(url).status_code == 200

        statements = prepared_statements()

        lookup = [s for s in statements if s.startswith("SELECT i.id, i.uuid")]
        store = [s for s in statements if s.startswith("WITH still AS")]
        assert len(lookup) == 1 and len(store) == 1, statements
        assert set(statements) == {lookup[0], store[0]}
        # What was prepared is the receiver's text, its values apart.
        assert "$1" in store[0] and "prepared-" not in store[0]
        assert EventNotification.objects.filter(instance=instance).count() == DELIVERIES

    def test_with_prepared_statements_off_nothing_is_prepared(client, instance, settings):
        settings.WEBHOOK_RECEIVER_CACHE_SECONDS = 0
        ingest.forget_receivers()
        connection.ensure_connection()
        # What DATABASE_PREPARED_STATEMENTS=false sets when the connection opens.
        threshold = connection.connection.prepare_threshold
        connection.connection.prepare_threshold = None
        try:
            deliver_many(client, instance, "unprepared")
            assert prepared_statements() == []
        finally:
            connection.connection.prepare_threshold = threshold
        assert EventNotification.objects.filter(instance=instance).count() == DELIVERIES

    def test_the_database_connection_has_the_threshold(db):
        connection.ensure_connection()
        assert settings.DATABASES["default"]["OPTIONS"]["prepare_threshold"] == THRESHOLD
        assert connection.connection.prepare_threshold == THRESHOLD


@pytest.mark.parametrize(("value", "threshold"), [(None, "5"), ("false", "None"), ("true", "5")])
def test_database_prepared_statements_sets_the_threshold(value, threshold):
    code = (
        "import django; django.setup(); from django.conf import settings;"
        "print(settings.DATABASES['default']['OPTIONS']['prepare_threshold'])"
    )
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_PREPARED_STATEMENTS"}
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        DATABASE_URL="postgres://nobody@127.0.0.1:1/unused",  # settings only: never connects
    )
    if value is not None:
        env["DATABASE_PREPARED_STATEMENTS"] = value
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [threshold]
