"""Storing a received delivery: the event, and its day's count and last-event time.

The receiver's budget is two database round trips per delivery: one read (the instance and
its keys) and one write, this module. On PostgreSQL the write is a single statement in
autocommit (no BEGIN, COMMIT or SAVEPOINT): the event's `INSERT … ON CONFLICT DO NOTHING`,
the upsert of its `EventDailyCount` row and its deliveries to the matching destinations
(`forwarding.outbox`), chained by CTEs so that a redelivery (a conflict) is neither counted
nor forwarded twice. Other databases (SQLite, the embedded default) take a short transaction of
two statements instead: the same result, a few more round trips, on a local file.

On PostgreSQL the read is kept for a short while (WEBHOOK_RECEIVER_CACHE_SECONDS) in each
worker, so that an instance's next deliveries cost one round trip. The write re-checks, in
the same statement, that what was read still holds (the instance not deleted, its Cloud
Elements id and keys unchanged); when it does not, nothing is stored and the receiver reads
the instance again. A stale read can therefore never accept what the database would refuse.

Both statements are kept prepared on each PostgreSQL connection (`_prepared_cursor`): the
database then neither parses nor plans them per delivery.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone

from instances.events.models import EventNotification, SignatureRefusal
from instances.forwarding import outbox
from instances.lib.fields import decrypt
from instances.models import ElementInstance, WebhookSettings

# The columns a delivery fills, besides instance_id and received_at.
FIELDS = (
    "dedup_key",
    "remote_event_id",
    "webhook_id",
    "signature",
    "event_type",
    "object_type",
    "object_id",
    "events",
    "body",
)


# The receiver's read: the instance and its keys, nothing else (no encrypted instance column,
# no ORDER BY). Raw SQL on PostgreSQL: the ORM's compiling and model machinery cost more CPU
# than the query itself (about 0.8 ms of 1.1 ms per delivery, measured).
POSTGRESQL_LOOKUP = """
    SELECT i.id, i.uuid, i.status, i.remote_id, w.id, w.enabled, w.signature_key,
           w.previous_signature_key, w.previous_signature_key_expires_at, w.signature_key_unknown
    FROM instances_elementinstance i
    JOIN instances_webhooksettings w ON w.instance_id = i.id
    WHERE i.uuid = %s AND i.status <> 'deleted'
"""
RECEIVER_COLUMNS = (
    "uuid",
    "status",
    "remote_id",
    "webhook__enabled",
    "webhook__signature_key",
    "webhook__previous_signature_key",
    "webhook__previous_signature_key_expires_at",
    "webhook__signature_key_unknown",
)


@dataclass(frozen=True)
class Receiver:
    """The instance a delivery is addressed to, as read, and how it was read."""

    instance: ElementInstance  # with .webhook; its keys decrypted
    # PostgreSQL: the columns the receiver relies on, as stored, for the write to re-check.
    read: tuple | None = None
    cached: bool = False


# Per worker process: uuid → (monotonic expiry, Receiver), least recently stored first.
# Bounded, so that a worker's memory stays flat however many instances deliver: an entry
# takes about 1.8 kB (measured), 2,000 about 4 MB. The instances that deliver most stay.
_cache: OrderedDict[str, tuple[float, Receiver]] = OrderedDict()
_cache_lock = threading.Lock()
CACHE_SIZE = 2_000


def forget_receivers() -> None:
    """Empty this process's cache (tests; nothing else needs it: every write re-checks)."""
    with _cache_lock:
        _cache.clear()


def find_receiving_instance(uuid, *, fresh: bool = False) -> Receiver | None:
    """The (not deleted) instance a delivery is addressed to, with its webhook settings.

    `fresh` skips this worker's cache. Only the columns the receiver reads are loaded
    (others load on access, one query each).
    """
    if connection.vendor != "postgresql":
        rows = (
            ElementInstance.objects.select_related("webhook")
            .only(*RECEIVER_COLUMNS)
            .exclude(status=ElementInstance.Status.DELETED)
            .filter(uuid=uuid)
            .order_by()[:1]
        )
        instance = next(iter(rows), None)
        return Receiver(instance) if instance else None
    key, seconds = str(uuid), settings.WEBHOOK_RECEIVER_CACHE_SECONDS
    if seconds and not fresh:
        with _cache_lock:
            expires, receiver = _cache.get(key, (0.0, None))
        if receiver and expires > time.monotonic():
            return receiver
    receiver = _read_receiver(uuid)
    if receiver is None:
        # Deleted (or never was): keep no keys of it in memory.
        with _cache_lock:
            _cache.pop(key, None)
    elif seconds:
        with _cache_lock:
            _cache[key] = (
                time.monotonic() + seconds,
                Receiver(receiver.instance, receiver.read, True),
            )
            _cache.move_to_end(key)
            while len(_cache) > CACHE_SIZE:
                _cache.popitem(last=False)
    return receiver


def _prepared_cursor():
    """A cursor whose statements PostgreSQL can keep prepared on this connection.

    Django's cursors bind parameters on the client (the text sent differs every time, so it
    is parsed and planned every time); psycopg's server-side binding cursor sends the same
    text with the values apart, and prepares it once executed `prepare_threshold` times on
    the connection (DATABASES' OPTIONS; DATABASE_PREPARED_STATEMENTS). Parsing and planning
    the store took about three quarters of the database's CPU per delivery (measured). The
    cursor is wrapped as Django wraps its own: errors, query logging and execute wrappers.
    """
    from django.db.backends.postgresql.base import ServerBindingCursor

    connection.close_if_health_check_failed()
    connection.ensure_connection()
    connection.validate_thread_sharing()
    cursor = ServerBindingCursor(connection.connection)
    if connection.queries_logged:
        return connection.make_debug_cursor(cursor)
    return connection.make_cursor(cursor)


def _read_receiver(uuid) -> Receiver | None:
    with _prepared_cursor() as cursor:
        cursor.execute(POSTGRESQL_LOOKUP, [uuid])
        row = cursor.fetchone()
    if row is None:
        return None
    alias = connection.alias
    instance = ElementInstance.from_db(alias, ["id", "uuid", "status", "remote_id"], row[:4])
    webhook = WebhookSettings.from_db(
        alias,
        [
            "id",
            "instance_id",
            "enabled",
            "signature_key",
            "previous_signature_key",
            "previous_signature_key_expires_at",
            "signature_key_unknown",
        ],
        [row[4], row[0], row[5], _plain(row[6]), _plain(row[7]), row[8], row[9]],
    )
    # As select_related would: instance.webhook and webhook.instance without a query.
    instance._state.fields_cache["webhook"] = webhook
    webhook._state.fields_cache["instance"] = instance
    # The Cloud Elements id and the key columns as stored (encrypted), for the write.
    return Receiver(instance, read=(row[3], row[6], row[7], row[8]))


def _plain(token: str | None) -> str | None:
    return decrypt(token) if token else token


# What store_delivery returns when the instance changed since it was read: nothing stored.
STALE = "stale"


def store_delivery(
    *,
    instance_id: int,
    fields: dict[str, Any],
    received_at: datetime | None = None,
    read: tuple | None = None,
) -> int | str | None:
    """Store one delivery unless its de-duplication key is known for this instance.

    Returns the new event's id, None for a redelivery (nothing stored, nothing counted), or
    STALE when `read` (Receiver.read) no longer matches the instance (nothing stored).
    Raises DatabaseError when the database cannot store it.
    """
    received_at = received_at or timezone.now()
    if connection.vendor == "postgresql":
        return _store_postgresql(instance_id, fields, received_at, read)
    return _store_portable(instance_id, fields, received_at)


# Table and column names are fixed here (the models' defaults), never built from input.
# `still`: the instance as the receiver read it (when `read` is given; else as long as it
# exists). The event is inserted only from that row, in the same statement.
POSTGRESQL_STORE = """
    WITH still AS (
        SELECT i.element_key FROM instances_elementinstance i
        JOIN instances_webhooksettings w ON w.instance_id = i.id
        WHERE i.id = %s AND (NOT %s OR (
            i.status <> 'deleted'
            AND i.remote_id IS NOT DISTINCT FROM %s
            AND w.signature_key IS NOT DISTINCT FROM %s
            AND w.previous_signature_key IS NOT DISTINCT FROM %s
            AND w.previous_signature_key_expires_at IS NOT DISTINCT FROM %s))
    ), event AS (
        INSERT INTO instances_eventnotification (
            instance_id, received_at, dedup_key, remote_event_id, webhook_id, signature,
            event_type, object_type, object_id, events, body
        )
        SELECT %s, %s::timestamptz, %s, %s, %s, %s, %s, %s, %s, %s::jsonb, %s FROM still
        ON CONFLICT (instance_id, dedup_key) DO NOTHING
        RETURNING id, received_at
    ), daily AS (
        INSERT INTO instances_eventdailycount AS daily (instance_id, day, count, last_received_at)
        SELECT %s, %s, 1, received_at FROM event
        ON CONFLICT (instance_id, day) DO UPDATE
        SET count = daily.count + 1,
            last_received_at = GREATEST(daily.last_received_at, EXCLUDED.last_received_at)
    ), {forwarded}
    SELECT EXISTS (SELECT 1 FROM still), (SELECT id FROM event)
""".replace("{forwarded}", outbox.POSTGRESQL_CTE.strip())

BUMP_DAILY_COUNT = """
    INSERT INTO instances_eventdailycount AS daily (instance_id, day, count, last_received_at)
    VALUES (%s, %s, 1, %s)
    ON CONFLICT (instance_id, day) DO UPDATE
    SET count = daily.count + 1,
        last_received_at = {latest}(daily.last_received_at, excluded.last_received_at)
"""
BUMP_SQL = {
    "postgresql": BUMP_DAILY_COUNT.format(latest="GREATEST"),
    "sqlite": BUMP_DAILY_COUNT.format(latest="MAX"),
}


def _store_postgresql(
    instance_id: int, fields: dict[str, Any], received_at: datetime, read: tuple | None
):
    values = [json.dumps(fields["events"]) if name == "events" else fields[name] for name in FIELDS]
    params = [
        instance_id,
        read is not None,
        *(read or (None,) * 4),
        instance_id,
        received_at,
        *values,
        instance_id,
        timezone.localdate(received_at),
        *outbox.cte_params(instance_id, _event_types(fields)),
    ]
    with _prepared_cursor() as cursor:
        cursor.execute(POSTGRESQL_STORE, params)
        still, event_id = cursor.fetchone()
    return event_id if still else STALE


def _store_portable(instance_id: int, fields: dict[str, Any], received_at: datetime):
    try:
        with transaction.atomic():
            event = EventNotification.objects.create(
                instance_id=instance_id, received_at=received_at, **fields
            )
            bump_daily_count(instance_id=instance_id, received_at=received_at)
            outbox.queue_event(
                event=event, instance_id=instance_id, event_types=_event_types(fields)
            )
    except IntegrityError:
        # The de-duplication key is taken: a redelivery, already stored and counted.
        return None
    return event.pk


def _event_types(fields: dict[str, Any]) -> list[str]:
    return sorted({item["eventType"] for item in fields["events"]})


def bump_daily_count(*, instance_id: int, received_at: datetime) -> None:
    """Count one delivery on its local day (an upsert; SQLite and PostgreSQL alike)."""
    ops = connection.ops
    params = [
        instance_id,
        ops.adapt_datefield_value(timezone.localdate(received_at)),
        ops.adapt_datetimefield_value(received_at),
    ]
    with connection.cursor() as cursor:
        cursor.execute(BUMP_SQL[connection.vendor], params)


def count_refusal(instance_id: int) -> None:
    """One more refused signature for the instance this hour (refusals are rare: plain ORM)."""
    hour = timezone.now().replace(minute=0, second=0, microsecond=0)
    bumped = SignatureRefusal.objects.filter(instance_id=instance_id, hour=hour).update(
        count=F("count") + 1
    )
    if bumped:
        return
    try:
        with transaction.atomic():
            SignatureRefusal.objects.create(instance_id=instance_id, hour=hour, count=1)
    except IntegrityError:  # made by a concurrent refusal meanwhile
        SignatureRefusal.objects.filter(instance_id=instance_id, hour=hour).update(
            count=F("count") + 1
        )


# Ids up to this length are kept in the de-duplication key as they are; longer ones by hash.
KEY_ID_LIMIT = 150


def id_key(kind: str, value: str) -> str:
    """A delivery's de-duplication key from one of its ids: the id itself when it is short
    (the keys stored so far), else its SHA-256: never a prefix, which two ids may share."""
    if len(value) <= KEY_ID_LIMIT:
        return f"{kind}:{value}"
    return f"{kind}-sha256:" + hashlib.sha256(value.encode()).hexdigest()
