"""Search and tag filters of the instance lists, shaped for large tables.

No join that would force DISTINCT: tags match through `Exists()` or an id subquery. A name
matches anywhere (`ILIKE '%term%'`, served by a trigram index on PostgreSQL), a number matches
the Cloud Elements id exactly, a tag its name whatever the case.
"""

from __future__ import annotations

from django.db.models import Exists, OuterRef, QuerySet

from .models import ElementInstance, Tag

TagLink = ElementInstance.tags.through


def with_tag(queryset: QuerySet, name: str) -> QuerySet:
    """Instances carrying the tag `name` (any case)."""
    links = TagLink.objects.filter(elementinstance_id=OuterRef("pk"), tag__name__iexact=name)
    return queryset.filter(Exists(links))


def search(queryset: QuerySet, term: str) -> QuerySet:
    """Instances whose name contains `term`, tagged `term`, or whose Cloud Elements id it is.

    The three matches are a UNION of ids, so that each is an index lookup of its own
    (an OR across them would read every row).
    """
    term = term.strip()
    if not term:
        return queryset
    by_name = ElementInstance.objects.filter(name__icontains=term).values("pk").order_by()
    matches = []
    # The tag is looked up first (a unique index): with its id as a constant, the planner
    # knows how many instances carry it, instead of assuming an average tag's share and
    # choosing to read the whole table.
    tag_id = Tag.objects.filter(name__iexact=term).values_list("pk", flat=True).first()
    if tag_id is not None:
        matches.append(TagLink.objects.filter(tag_id=tag_id).values("elementinstance_id"))
    if term.isascii() and term.isdigit() and len(term) <= 18:
        matches.append(ElementInstance.objects.filter(remote_id=int(term)).values("pk").order_by())
    return queryset.filter(pk__in=by_name.union(*matches) if matches else by_name)


def tags_in_use() -> QuerySet:
    """Tags that at least one instance carries (for the filter's choices)."""
    return Tag.objects.filter(Exists(TagLink.objects.filter(tag_id=OuterRef("pk"))))
