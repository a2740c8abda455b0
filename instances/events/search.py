"""The admin's search of received deliveries, at a cost that does not grow with the table.

A plain `icontains` over the events (Django's default admin search) reads every row when
nothing matches. Here each kind of match is an index lookup with a bound of its own:

- digits: the delivery with that id (primary key);
- an instance, by name (with a word of 3 characters or more: the trigram index) or by its
  Cloud Elements id (digits: unique index): the newest deliveries of at most INSTANCES such
  instances, each one a walk of the (instance, time) index;
- event id, Elements-Webhook-Id or (part of an) object id: among the newest WINDOW
  deliveries only, or the newest WINDOW of the instance the list is filtered by; that
  instance's event ids and webhook ids also match over its whole history, through the
  unique (instance, dedup_key) index.

The newest RESULTS matches come back as ids; the list shows those rows, filtered and paged
as usual.
"""

from __future__ import annotations

import re

from django.db import connection
from django.db.models import Q, QuerySet
from django.db.models.expressions import RawSQL

from instances.events.models import EventNotification
from instances.models import ElementInstance

# Deliveries a search returns at most: 10 admin pages.
RESULTS = 1_000
# Instances a name or id search follows at most (each one a walk of at most RESULTS rows).
INSTANCES = 20
# Newest deliveries searched by event id, webhook id and object id (no index of their own):
# each search reads this many rows, some 10 ms on PostgreSQL.
WINDOW = 5_000
# A name is searched for only with a word of 3 letters or digits in the term: without one the
# trigram index has nothing to look up, and reads every instance.
NAME_WORD = re.compile(r"[^\W_]{3}")
# A longer run of digits is no bigint id.
DIGITS_MAX_LENGTH = 18

HELP_TEXT = (
    f"A delivery id; an instance's name (a word of 3 characters or more) or Cloud Elements "
    f"id: the newest deliveries of up to {INSTANCES} such instances; an event id, "
    f"Elements-Webhook-Id or object id (or part of one): among the newest {WINDOW:,} "
    f"deliveries, or the chosen instance's (its event ids: all of them). At most "
    f"{RESULTS:,} results, newest first."
)

NEWEST = ("-received_at", "-id")

# The window is a subquery with a LIMIT, which the planner cannot push the match into: it
# walks the time index (or the instance's) for WINDOW rows and filters those, whatever the
# term. A cutoff time in the WHERE instead would leave it estimating how many rows are newer
# — for a busy instance it guesses most of them, and reads them all. Only one of the two
# fixed SCOPE fragments is ever put in; the values are parameters.
WINDOW_SQL = """
    SELECT id FROM (
        SELECT id, received_at, remote_event_id, webhook_id, object_id
        FROM instances_eventnotification {scope}
        ORDER BY received_at DESC, id DESC
        LIMIT %s
    ) newest
    WHERE remote_event_id = %s OR webhook_id = %s OR UPPER(object_id) LIKE UPPER(%s) ESCAPE '\\'
    ORDER BY received_at DESC, id DESC
    LIMIT %s
"""
ALL_EVENTS, ONE_INSTANCE = "", "WHERE instance_id = %s"


def search(queryset: QuerySet, term: str, *, instance_id: int | None = None) -> QuerySet:
    """`queryset` narrowed to the deliveries `term` finds (see the module's docstring).

    `instance_id` is the instance the list is filtered by, if any: its deliveries are
    searched further back.
    """
    term = term.replace("\x00", "").strip()  # PostgreSQL refuses NUL in a parameter
    if not term:
        return queryset
    digits = _is_id(term)
    branches = []
    if window := _window(term, instance_id):
        branches.append(_ids(EventNotification.objects.filter(pk__in=_among(window))))
    if digits:
        branches.append(_ids(EventNotification.objects.filter(pk=int(term))))
    for pk in _instances(term, digits=digits):
        branches.append(_newest(EventNotification.objects.filter(instance_id=pk), RESULTS))
    if instance_id is not None:
        keys = [f"event:{term}", f"webhook:{term[:150]}"]
        branches.append(
            _ids(EventNotification.objects.filter(instance_id=instance_id, dedup_key__in=keys))
        )
    if not branches:
        return queryset.none()
    first, *rest = branches
    # Each branch is bounded on its own; of all of them, the newest RESULTS.
    found = first.union(*rest, all=True).order_by(*NEWEST)[:RESULTS] if rest else first
    return queryset.filter(pk__in=_among([pk for pk, _ in found]))


def chosen_instance(value: str) -> int | None:
    """The instance id the list is filtered by (the `instance__id__exact` parameter), if any."""
    return int(value) if _is_id(value) else None


def _is_id(value: str) -> bool:
    return value.isascii() and value.isdigit() and len(value) <= DIGITS_MAX_LENGTH


def _instances(term: str, *, digits: bool) -> list[int]:
    """Up to INSTANCES instances named like `term`, or whose Cloud Elements id it is."""
    match = Q()
    if NAME_WORD.search(term):
        match |= Q(name__icontains=term)
    if digits:
        match |= Q(remote_id=int(term))
    if not match:
        return []
    return list(ElementInstance.objects.filter(match).values_list("pk", flat=True)[:INSTANCES])


def _window(term: str, instance_id: int | None) -> list[int]:
    """Ids among the newest WINDOW deliveries (of `instance_id`) whose event id or webhook
    id is `term`, or whose object id contains it, newest first, at most RESULTS."""
    scope, scope_params = (
        (ONE_INSTANCE, [instance_id]) if instance_id is not None else (ALL_EVENTS, [])
    )
    pattern = f"%{connection.ops.prep_for_like_query(term)}%"
    with connection.cursor() as cursor:
        cursor.execute(
            WINDOW_SQL.format(scope=scope),
            [*scope_params, WINDOW, term, term, pattern, RESULTS],
        )
        return [row[0] for row in cursor.fetchall()]


def _among(ids: list[int]):
    """The value for `pk__in` that selects these (up to RESULTS) ids."""
    if connection.vendor != "postgresql":
        return ids
    # On PostgreSQL, one array parameter rather than a placeholder per id (psycopg and
    # Django would handle each, several times a page), and behind a subquery rather than
    # an IN list: the paginator adds the page's own IN list, and PostgreSQL 15 costs two
    # lists on one index as the product of their lengths, then prefers to read the table.
    return RawSQL("SELECT unnest(%s::bigint[])", (ids,))


def _ids(queryset: QuerySet) -> QuerySet:
    return queryset.order_by().values_list("pk", "received_at")


def _newest(queryset: QuerySet, limit: int) -> QuerySet:
    """The newest `limit` rows of `queryset`, as a branch of a UNION."""
    newest = queryset.order_by(*NEWEST)[:limit]
    if connection.features.supports_slicing_ordering_in_compound:
        return newest.values_list("pk", "received_at")
    # SQLite allows no LIMIT inside a UNION: the same rows, through an IN.
    return _ids(EventNotification.objects.filter(pk__in=newest.values("pk")))
