"""What one delivery to the webhook receiver costs the database (issue 11).

A delivery takes two round trips on PostgreSQL and six on SQLite, reads no encrypted column of
the instance, and updates only the indexes the pages read.
"""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from instances.events.models import EventDailyCount, EventNotification
from tests.instances.scale_helpers import body, deliver
from tests.roundtrips import counting_round_trips


@pytest.mark.django_db(transaction=True)
def test_a_delivery_costs_two_round_trips_on_postgresql_six_on_sqlite(client, receiver_instance):
    # PostgreSQL: a read, then one statement in autocommit (the event, its day's count and
    # its deliveries to the destinations it matches). SQLite: the read, then a short
    # transaction (BEGIN, INSERT, upsert, the destinations it may go to (none), COMMIT).
    budget = 2 if connection.vendor == "postgresql" else 6
    trips = []
    for event_id in ["first", "first", "second"]:  # new, redelivery, new
        with counting_round_trips() as counted:
            assert deliver(client, receiver_instance, body(event_id)).status_code == 200
        trips.append(counted.total)

    assert max(trips) <= budget, (trips, counted.statements)
    assert EventDailyCount.objects.get(instance=receiver_instance).count == 2


def test_the_receiver_reads_no_encrypted_instance_column(client, receiver_instance):
    with CaptureQueriesContext(connection) as queries:
        assert deliver(client, receiver_instance, body("cols")).status_code == 200

    lookup = queries.captured_queries[0]["sql"]
    for column in ("oauth_api_secret", "remote_token", "api_key", "ORDER BY"):
        assert column not in lookup


def test_each_delivery_updates_only_the_indexes_the_pages_read(db):
    # Every index on the events table costs every delivery an update: the key, the
    # de-duplication key per instance, the time order, and the time order per instance
    # (which also serves lookups by instance: no separate index on instance_id).
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(
            cursor, EventNotification._meta.db_table
        )
    indexed = sorted(
        {
            tuple(c["columns"])
            for c in constraints.values()
            if c["index"] or c["unique"] or c["primary_key"]
        }
    )

    assert indexed == [
        ("id",),
        ("instance_id", "dedup_key"),
        ("instance_id", "received_at", "id"),
        ("received_at", "id"),
    ]
