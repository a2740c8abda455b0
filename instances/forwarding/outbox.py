"""Queueing a stored event for the destinations it matches, in the receiver's own write.

On PostgreSQL the receiver stores an event in one statement (`events.ingest`); `POSTGRESQL_CTE`
is a part of that statement that inserts one `Queued` row per matching destination, so
forwarding costs the receiver no round trip, no task and one narrow row: the forwarder turns
the rows into deliveries (`sender.promote`). Elsewhere (SQLite) `queue_event` does the same
inside the receiver's short transaction.

Which destinations an event matches is one rule, `matches`; the SQL below says the same thing
for the statement, and `tests/forwarding/test_filters.py` checks both against the same cases.
"""

from __future__ import annotations

from collections.abc import Iterable

from instances.forwarding.models import Destination, Queued
from instances.models import ElementInstance


def matches(
    destination: Destination,
    *,
    element_key: str,
    tag_names: Iterable[str],
    instance_id: int,
    instance_ids: set[int] | None,
    event_types: Iterable[str],
) -> bool:
    """True when every filter of the destination is empty or met. `instance_ids` is the
    destination's instance filter (None or empty: every instance)."""
    if destination.element_keys and element_key not in destination.element_keys:
        return False
    if destination.tags and not {t.lower() for t in tag_names} & set(destination.tags):
        return False
    if destination.event_types and not set(event_types) & set(destination.event_types):
        return False
    return not instance_ids or instance_id in instance_ids


# Parameters, in order: the event's types (text[]), the instance id twice. `event` and `still`
# are the receiver statement's CTEs (the inserted event; the instance with its element_key).
POSTGRESQL_CTE = """
    forwarded AS (
        INSERT INTO forwarding_queued (event_id, destination_id, queued_at)
        SELECT event.id, d.id, event.received_at
        FROM event, still, forwarding_destination d
        WHERE d.deleted_at IS NULL
          AND (d.element_keys = '[]'::jsonb OR d.element_keys ? still.element_key)
          AND (d.event_types = '[]'::jsonb OR d.event_types ?| %s::text[])
          AND (d.tags = '[]'::jsonb OR EXISTS (
                SELECT 1 FROM instances_elementinstance_tags it
                JOIN instances_tag t ON t.id = it.tag_id
                WHERE it.elementinstance_id = %s AND d.tags ? lower(t.name)))
          AND (NOT EXISTS (
                SELECT 1 FROM forwarding_destination_instances di WHERE di.destination_id = d.id)
               OR EXISTS (
                SELECT 1 FROM forwarding_destination_instances di
                WHERE di.destination_id = d.id AND di.elementinstance_id = %s))
    )
"""


def cte_params(instance_id: int, event_types: list[str]) -> list:
    return [event_types, instance_id, instance_id]


def queue_event(*, event, instance_id: int, event_types: list[str]) -> int:
    """Queue `event` for every live destination it matches (the portable path); returns how
    many. One query when there is no destination."""
    destinations = list(Destination.objects.filter(deleted_at__isnull=True).order_by())
    if not destinations:
        return 0
    instance = ElementInstance.objects.only("element_key").get(pk=instance_id)
    tag_names = list(instance.tags.values_list("name", flat=True))
    chosen = Destination.instances.through.objects.filter(destination__in=destinations).values_list(
        "destination_id", "elementinstance_id"
    )
    by_destination: dict[int, set[int]] = {}
    for destination_id, chosen_id in chosen:
        by_destination.setdefault(destination_id, set()).add(chosen_id)
    rows = [
        Queued(event=event, destination=destination, queued_at=event.received_at)
        for destination in destinations
        if matches(
            destination,
            element_key=instance.element_key,
            tag_names=tag_names,
            instance_id=instance_id,
            instance_ids=by_destination.get(destination.pk),
            event_types=event_types,
        )
    ]
    Queued.objects.bulk_create(rows)
    return len(rows)
