"""Search and tag filters of the instance lists, shaped for large tables.

No join that would force DISTINCT: tags match through `Exists()` or ids. A name matches
anywhere (`UPPER(name) LIKE '%TERM%'`, served by a trigram index on PostgreSQL), a number
matches the Cloud Elements id exactly, a tag its name whatever the case.
"""

from __future__ import annotations

import json
from typing import NamedTuple

from django.core.exceptions import EmptyResultSet
from django.db import connection
from django.db.models import Exists, OuterRef, Q, QuerySet, Subquery
from django.db.models.lookups import Exact

from instances.models import ElementInstance, Tag

TagLink = ElementInstance.tags.through

# A tag carried by at most this many instances matches by their ids: an index lookup that the
# planner can OR with the name's trigram lookup. A bigger tag is checked row by row (a
# subquery on the unique (instance, tag) index) while the planner walks the time index: it is
# common enough for a page to be found within a few hundred rows.
FEW_TAGGED = 1_000


# Active instances Cloud Elements marked invalid or disabled: their owner must consent again.
NEEDS_REAUTHORIZATION = Q(status=ElementInstance.Status.ACTIVE) & (
    Q(remote_valid=False) | Q(remote_disabled=True)
)


def with_tag(queryset: QuerySet, name: str) -> QuerySet:
    """Instances carrying the tag `name` (any case)."""
    links = TagLink.objects.filter(elementinstance_id=OuterRef("pk"), tag__name__iexact=name)
    return queryset.filter(Exists(links))


def search(queryset: QuerySet, term: str) -> QuerySet:
    """Instances whose name or owner's name contains `term`, tagged `term`, whose Cloud
    Elements id it is, or whose owner's e-mail address it is.

    One OR of conditions that each have an index, so that the planner can choose per term:
    a term that matches many instances walks the time index and stops after a page; a term
    that matches few reads the matches only (a BitmapOr of the trigram, id and Cloud Elements
    id indexes). Either way the cost follows the page, not the table.
    """
    term = term.replace("\x00", "").strip()  # PostgreSQL refuses NUL in a parameter
    if not term:
        return queryset
    number = term.isascii() and term.isdigit()
    match = Q(name__icontains=term)
    if "@" in term:
        match |= Q(owner_email=term.lower())
    elif not number:
        # A person's name, not a number: an id search stays an OR of two index lookups.
        match |= Q(owner_name__icontains=term)
    # The tag first (a unique index), so that the query holds its id or its few instances'.
    tag_id = Tag.objects.filter(name__iexact=term).values_list("pk", flat=True).first()
    if tag_id is not None:
        links = TagLink.objects.filter(tag_id=tag_id)
        tagged = list(links.values_list("elementinstance_id", flat=True)[: FEW_TAGGED + 1])
        if len(tagged) <= FEW_TAGGED:
            match |= Q(pk__in=tagged)
        else:
            # A scalar subquery, not Exists(): inside an OR, PostgreSQL would turn Exists() into a
            # hash of every link of the tag; this is probed per row, through the unique index.
            link = links.filter(elementinstance_id=OuterRef("pk")).values("tag_id")[:1]
            match |= Q(Exact(Subquery(link), tag_id))
    if number and len(term) <= 18:
        match |= Q(remote_id=int(term))
    return queryset.filter(match)


def tags_in_use() -> QuerySet:
    """Tags that at least one instance carries (for the filter's choices)."""
    return Tag.objects.filter(Exists(TagLink.objects.filter(tag_id=OuterRef("pk"))))


# The list counts matches exactly when there are at most this many (by the planner's estimate,
# checked by a COUNT over at most one more row); past it, it shows the estimate.
EXACT_COUNT_CAP = 1_000


class MatchCount(NamedTuple):
    count: int
    exact: bool
    # Past the cap on SQLite, which has no estimate: "more than `count`".
    at_least: bool = False

    @property
    def words(self) -> str:
        if self.exact:
            return f"{self.count:,}"
        return f"more than {self.count:,}" if self.at_least else f"about {self.count:,}"


def count_matching(queryset: QuerySet) -> MatchCount:
    """How many rows match, at a cost that does not grow with the table: on PostgreSQL the
    planner's estimate first (EXPLAIN, no rows read); at most EXACT_COUNT_CAP, an exact COUNT
    over at most one more row; past it the estimate, as the admin's paginator does. SQLite
    has no estimate, and an estimate the COUNT finds too low is none: "more than 1,000"."""
    rows = queryset.order_by().values("pk")
    estimate = _estimate(rows) if connection.vendor == "postgresql" else 0
    if estimate > EXACT_COUNT_CAP:
        return MatchCount(estimate, exact=False)
    capped = rows[: EXACT_COUNT_CAP + 1].count()
    if capped <= EXACT_COUNT_CAP:
        return MatchCount(capped, exact=True)
    if connection.vendor != "postgresql" or estimate <= EXACT_COUNT_CAP:
        # No estimate, or one the COUNT just proved too low: all that is known is "more".
        return MatchCount(EXACT_COUNT_CAP, exact=False, at_least=True)
    return MatchCount(estimate, exact=False)


def _estimate(rows: QuerySet) -> int:
    try:
        sql, params = rows.query.sql_with_params()
    except EmptyResultSet:
        return 0
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
        plan = cursor.fetchone()[0]
    plan = json.loads(plan) if isinstance(plan, str) else plan
    return int(plan[0]["Plan"]["Plan Rows"])
