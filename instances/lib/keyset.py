"""Keyset ("newer / older") paging: every page is one index range scan, however deep.

A page is addressed by the row it starts after: `older=<cursor>` lists rows older than the
cursor, `newer=<cursor>` rows newer than it, `oldest=1` the oldest rows. A cursor is the row's
time (microseconds since the epoch) and id, so the order (time descending, id as tie-break)
matches an index of the same columns and no row is skipped or repeated when rows share a time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

from django.db.models import Q, QuerySet

PARAMETERS = ("older", "newer", "oldest", "page")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)


@dataclass
class KeysetPage:
    rows: list
    newer_url: str | None = None
    older_url: str | None = None
    newest_url: str | None = None
    oldest_url: str | None = None
    query: dict = field(default_factory=dict)

    def __iter__(self):
        return iter(self.rows)

    def __len__(self) -> int:
        return len(self.rows)

    @property
    def has_other_pages(self) -> bool:
        return bool(self.newer_url or self.older_url)


def cursor(row, time_field: str) -> str:
    moment = getattr(row, time_field)
    return f"{(moment - EPOCH) // MICROSECOND}_{row.pk}"


def parse_cursor(value: str | None) -> tuple[datetime, int] | None:
    """The (time, id) of a cursor, or None for anything malformed (then: the first page)."""
    try:
        micros, pk = (int(part) for part in (value or "").split("_"))
        return EPOCH + timedelta(microseconds=micros), pk
    except (ValueError, OverflowError):
        return None


def older_than(moment: datetime, pk: int, time_field: str) -> Q:
    """Rows after (time, pk) in the newest-first order. `time <= t` bounds the index range; the
    OR only settles ties on the same time (an OR alone would make the scan start at the top)."""
    return Q(**{f"{time_field}__lte": moment}) & (Q(**{f"{time_field}__lt": moment}) | Q(pk__lt=pk))


def paginate(
    queryset: QuerySet,
    params,
    *,
    size: int,
    time_field: str,
    prefix: str = "",
    keep: dict | None = None,
    fragment: str = "",
    ids_first: bool = False,
) -> KeysetPage:
    """One page of `queryset`, newest first, from the request's `params` (GET).

    `keep` holds the other query parameters (filters) that every link carries; `prefix`
    names the paging parameters when a page holds more than one list. `ids_first` reads the
    page's ids before the rows (one more query, for joined and searched lists).
    """
    older_key, newer_key, oldest_key = f"{prefix}older", f"{prefix}newer", f"{prefix}oldest"

    def fetch(rows: QuerySet, order: tuple[str, str]) -> list:
        if not ids_first:
            return list(rows.order_by(*order)[: size + 1])
        # First the page's ids, from the filtered table alone (the planner then picks the
        # index for the order, or the few matches of a search, never a join of everything),
        # then those rows with their joins and annotations.
        ids = list(rows.order_by(*order).values_list("pk", flat=True)[: size + 1])
        return list(queryset.filter(pk__in=ids).order_by(*order))

    descending = (f"-{time_field}", "-pk")
    ascending = (time_field, "pk")
    older = parse_cursor(params.get(older_key))
    newer = parse_cursor(params.get(newer_key))
    at_newest = at_oldest = False
    if older:
        rows = fetch(queryset.filter(older_than(*older, time_field)), descending)
        at_oldest = len(rows) <= size
        rows = rows[:size]
    elif newer:
        moment, pk = newer
        after = Q(**{f"{time_field}__gte": moment}) & (
            Q(**{f"{time_field}__gt": moment}) | Q(pk__gt=pk)
        )
        rows = fetch(queryset.filter(after), ascending)
        # Near the newest rows the page may be short: never repeat a row to fill it.
        at_newest = len(rows) <= size
        rows = rows[:size][::-1]
    elif params.get(oldest_key):
        rows = fetch(queryset, ascending)
        at_oldest = True
        at_newest = len(rows) <= size
        rows = rows[:size][::-1]
    else:
        rows = fetch(queryset, descending)
        at_newest = True
        at_oldest = len(rows) <= size
        rows = rows[:size]

    base = dict(keep or {})

    def link(**extra) -> str:
        return "?" + urlencode({**base, **extra}, doseq=True) + fragment

    page = KeysetPage(rows=rows, query=base)
    if rows and not at_newest:
        page.newer_url = link(**{newer_key: cursor(rows[0], time_field)})
        page.newest_url = link()
    if rows and not at_oldest:
        page.older_url = link(**{older_key: cursor(rows[-1], time_field)})
        page.oldest_url = link(**{oldest_key: 1})
    return page
