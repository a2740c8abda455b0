"""Search and tag filters of the instance lists, shaped for large tables.

No join that would force DISTINCT: tags match through `Exists()` or ids. A name matches
anywhere (`UPPER(name) LIKE '%TERM%'`, served by a trigram index on PostgreSQL), a number
matches the Cloud Elements id exactly, a tag its name whatever the case.
"""

from __future__ import annotations

import json

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
    """Instances whose name contains `term`, tagged `term`, or whose Cloud Elements id it is.

    One OR of conditions that each have an index, so that the planner can choose per term:
    a term that matches many instances walks the time index and stops after a page; a term
    that matches few reads the matches only (a BitmapOr of the trigram, id and Cloud Elements
    id indexes). Either way the cost follows the page, not the table.
    """
    term = term.replace("\x00", "").strip()  # PostgreSQL refuses NUL in a parameter
    if not term:
        return queryset
    match = Q(name__icontains=term)
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
    if term.isascii() and term.isdigit() and len(term) <= 18:
        match |= Q(remote_id=int(term))
    return queryset.filter(match)


def tags_in_use() -> QuerySet:
    """Tags that at least one instance carries (for the filter's choices)."""
    return Tag.objects.filter(Exists(TagLink.objects.filter(tag_id=OuterRef("pk"))))


# The list counts matches exactly up to this many; past it, the planner's estimate.
EXACT_COUNT_CAP = 10_000


def count_matching(queryset: QuerySet) -> tuple[int, bool]:
    """How many rows match, and whether that is exact: a COUNT over at most EXACT_COUNT_CAP
    rows (constant cost), past which PostgreSQL's estimate of the plan's rows stands in (as the
    admin's paginator estimates a big table). SQLite has no estimate: the cap, not exact."""
    capped = queryset.order_by().values("pk")[: EXACT_COUNT_CAP + 1].count()
    if capped <= EXACT_COUNT_CAP:
        return capped, True
    if connection.vendor != "postgresql":
        return EXACT_COUNT_CAP, False
    sql, params = queryset.order_by().values("pk").query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
        plan = cursor.fetchone()[0]
    plan = json.loads(plan) if isinstance(plan, str) else plan
    return max(EXACT_COUNT_CAP + 1, int(plan[0]["Plan"]["Plan Rows"])), False
