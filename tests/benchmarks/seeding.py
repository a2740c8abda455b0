"""The benchmark's data, seeded with SQL (INSERT … SELECT generate_series), each data set in a
schema of its own."""

from __future__ import annotations

import json
import os
import time

import pytest
from django.conf import settings
from django.db import connection

from instances.lib.fields import encrypt

HOT = 1  # the instance with 100 → 100,000 events
RECEIVER = 2  # the instance the load run delivers to
SIGNATURE_KEY = "bench-signature-key"
SMALL = {"instances": 1_000, "events": 10_000, "hot_events": 100}
# `make bench BENCH_SCALE=10` multiplies the large data set: 1,000,000 instances, 10,000,000
# events, the hot instance with 1,000,000.
SCALE = int(os.environ.get("BENCH_SCALE", "1"))
LARGE = {
    "instances": 100_000 * SCALE,
    "events": 1_000_000 * SCALE,
    "hot_events": 100_000 * SCALE,
}
TAGS = 20
BODY = json.dumps(
    {
        "message": {
            "eventId": "bench",
            "events": [{"eventType": "CREATED", "objectType": "file", "objectId": "/a.txt"}],
        }
    }
)


def require_postgresql() -> None:
    """Stop the run unless the database is PostgreSQL: `make bench` measures it only."""
    if connection.vendor != "postgresql":
        pytest.exit(
            "make bench measures PostgreSQL only: set DATABASE_URL=postgres://user@host:5432/name "
            "(the Makefile's default is postgres://postgres@127.0.0.1:5432/ce_dashboard_bench).",
            returncode=2,
        )


def execute(sql: str, params=None) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params or [])


def seed_instances(first: int, last: int) -> None:
    """Instances first..last (ids), with webhook settings and one or two of TAGS tags.

    One name in 16 says "Acme", one instance in 10 has failed, one in 16 is changed and
    another one in 16 deleted at Cloud Elements, one in 5 imported, so that the searched and
    filtered pages are full pages on the small data set too: a ratio then compares the same
    page drawn from 1,000 or 100,000 rows, not 10 rows with 50.
    """
    secret, token, key = encrypt("bench-app-secret"), encrypt("bench-token"), encrypt(SIGNATURE_KEY)
    execute(
        """
        INSERT INTO instances_elementinstance (
            id, uuid, element_key, name, authentication_type, oauth_api_key, oauth_api_secret,
            oauth_callback_url, api_key, status, remote_id, remote_token, remote_valid,
            remote_disabled, remote_missing, last_error, last_error_request_id,
            created_at, updated_at, origin, account, remote_snapshot, remote_fingerprint,
            drifted, owner_name, owner_email)
        SELECT g, md5('bench' || g)::uuid, 'dropbox',
               CASE WHEN g %% 16 = 7 THEN 'Acme ' ELSE 'Customer ' END || g || ' Dropbox',
               'oauth2', 'bench-app', %s, '', '',
               CASE WHEN g %% 50 = 10 THEN 'draft' WHEN g %% 10 = 1 THEN 'failed'
                    WHEN g %% 97 = 13 THEN 'deleted' ELSE 'active' END,
               1000000 + g, %s, true, false, g %% 16 = 5, '', '',
               timestamptz '2026-01-01' + g * interval '2 minutes',
               timestamptz '2026-01-01' + g * interval '2 minutes',
               CASE WHEN g %% 5 = 2 THEN 'imported' ELSE 'created' END, 'sandbox', '{}', '',
               g %% 16 = 3,
               '', CASE WHEN g %% 4 = 0 THEN 'owner' || g || '@customer.example' ELSE '' END
        FROM generate_series(%s, %s) AS g
        """,
        [secret, token, first, last],
    )
    execute(
        """
        INSERT INTO instances_webhooksettings (
            instance_id, enabled, callback_url, signature_key, previous_signature_key,
            signature_key_unknown)
        SELECT g, g %% 3 <> 0, '', %s, '', false FROM generate_series(%s, %s) AS g
        """,
        [key, first, last],
    )
    execute(
        """
        INSERT INTO instances_elementinstance_tags (elementinstance_id, tag_id)
        SELECT g, t FROM generate_series(%s, %s) AS g,
             LATERAL (VALUES (g %% %s + 1), ((g * 7) %% %s + 1)) AS tags(t)
        ON CONFLICT DO NOTHING
        """,
        [first, last, TAGS, TAGS],
    )
    for table in ("instances_elementinstance", "instances_webhooksettings"):
        execute(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"
        )


def seed_events(first: int, last: int, *, instances: int, hot_first: int, hot_last: int) -> None:
    """Events with serials first..last spread over instances 2..instances (deleted ones too),
    and serials hot_first..hot_last on the hot instance, one every 20 seconds back from now."""
    columns = """instance_id, dedup_key, remote_event_id, webhook_id, signature, event_type,
                 object_type, object_id, events, body, received_at"""
    events = json.dumps(json.loads(BODY)["message"]["events"])
    execute(
        f"""
        INSERT INTO instances_eventnotification ({columns})
        SELECT 2 + g %% (%s - 1), 'event:bench-' || g, 'bench-' || g, '', 'verified',
               (ARRAY['CREATED','UPDATED','DELETED'])[1 + g %% 3], 'file', '/files/' || g,
               %s::jsonb, %s, now() - (g %% 86400) * interval '1 minute'
        FROM generate_series(%s, %s) AS g
        """,
        [instances, events, BODY, first, last],
    )
    execute(
        f"""
        INSERT INTO instances_eventnotification ({columns})
        SELECT %s, 'event:bench-' || g, 'bench-' || g, '', 'verified', 'UPDATED', 'file',
               '/hot/' || g, %s::jsonb, %s, now() - g * interval '20 seconds'
        FROM generate_series(%s, %s) AS g
        """,
        [HOT, events, BODY, hot_first, hot_last],
    )


def rebuild_rollup() -> None:
    # As the migration's backfill does, in one statement.
    execute("DELETE FROM instances_eventdailycount")
    execute(
        """
        INSERT INTO instances_eventdailycount (instance_id, day, count, last_received_at)
        SELECT instance_id, (received_at AT TIME ZONE %s)::date, count(*), max(received_at)
        FROM instances_eventnotification GROUP BY 1, 2
        """,
        [settings.TIME_ZONE],
    )
    execute("ANALYZE")


# Each data set lives in a schema of its own, with copies of the app's tables (indexes
# included); users and sessions stay in `public`. Switching `search_path` switches data sets,
# so that small and large are measured interleaved, in one run, under the same load.
DATA_TABLES = (
    "instances_tag",
    "instances_elementinstance",
    "instances_elementinstance_tags",
    "instances_webhooksettings",
    "instances_eventnotification",
    "instances_eventdailycount",
    "instances_auditentry",
)


def create_schema(schema: str, tables: tuple[str, ...] = ()) -> None:
    """A schema with empty copies of DATA_TABLES and `tables`."""
    execute(f"CREATE SCHEMA {schema}")
    for table in (*DATA_TABLES, *tables):
        execute(f"CREATE TABLE {schema}.{table} (LIKE public.{table} INCLUDING ALL)")


def use(schema: str) -> None:
    execute(f"SET search_path TO {schema}, public")


def seed(schema: str, size: dict, tables: tuple[str, ...] = ()) -> float:
    """`size`'s tags, instances and events in a new schema (with empty copies of `tables`
    too), which becomes the one in use; returns the seconds it took."""
    started = time.perf_counter()
    create_schema(schema, tables)
    use(schema)
    execute(
        "INSERT INTO instances_tag (id, name) SELECT t, 'team-' || t FROM generate_series(1, %s) t",
        [TAGS],
    )
    seed_instances(1, size["instances"])
    plain = size["events"] - size["hot_events"]
    seed_events(1, plain, instances=size["instances"], hot_first=plain + 1, hot_last=size["events"])
    rebuild_rollup()
    return time.perf_counter() - started
