"""Admin list filters and paginator that cost the same at 100,000 instances as at 10.

Django's defaults read whole tables to draw a changelist: a related filter lists every
related object, a field filter runs SELECT DISTINCT over the column, the paginator counts
every row (twice, with the unfiltered total). These replace them with fixed choices, Exists()
and an estimated count.
"""

from __future__ import annotations

import json

from django.contrib import admin
from django.core.exceptions import EmptyResultSet
from django.core.paginator import Paginator
from django.db import connection
from django.utils.functional import cached_property

from instances import parameters, search
from instances.forms import InstanceFilterForm
from instances.models import ElementInstance, Tag

# Below this many rows (by the planner's estimate) the paginator counts exactly: counting a
# thousand rows is cheap, counting a hundred thousand is not.
EXACT_COUNT_BELOW = 1_000
# Deepest page the admin links to: OFFSET stays small (keyset paging is the dashboard's).
MAX_PAGES = 100


class EstimatedCountPaginator(Paginator):
    """Exact counts for small results; the planner's estimate for large ones (PostgreSQL).

    `pg_class.reltuples` for an unfiltered table, the row estimate of EXPLAIN for a filtered
    one: both cost a catalogue read, not a scan. Pages stop at MAX_PAGES.
    """

    @cached_property
    def count(self) -> int:
        estimate = _estimated_rows(self.object_list)
        if estimate is None:
            return super().count
        if estimate >= EXACT_COUNT_BELOW:
            return estimate
        # The planner expects few rows: count them, but no further than the deepest page
        # linked (an estimate can be far off, say for a search term it has no statistics for).
        limit = MAX_PAGES * self.per_page
        counted = self.object_list.order_by()[:limit].count()
        return counted if counted < limit else max(estimate, counted)

    @cached_property
    def num_pages(self) -> int:
        return min(super().num_pages, MAX_PAGES)

    def page(self, number):
        # The page's ids first, from the filtered table alone, then those rows with their
        # joins: the planner never joins every row to sort them (see keyset.paginate).
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        ids = list(self.object_list.values_list("pk", flat=True)[bottom : bottom + self.per_page])
        return self._get_page(self.object_list.filter(pk__in=ids), number, self)


def _estimated_rows(queryset) -> int | None:
    if connection.vendor != "postgresql" or not hasattr(queryset, "query"):
        return None
    if not queryset.query.where:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass",
                [queryset.model._meta.db_table],
            )
            row = cursor.fetchone()
        # -1 (never analysed) or 0: count exactly.
        return int(row[0]) if row and row[0] > 0 else None
    try:
        sql, params = queryset.order_by().values("pk").query.sql_with_params()
    except EmptyResultSet:  # a filter that matches nothing (`.none()`, `pk__in=[]`): no SQL
        return 0
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
        plan = cursor.fetchone()[0]
    plan = json.loads(plan) if isinstance(plan, str) else plan
    return int(plan[0]["Plan"]["Plan Rows"])


def is_id(value: str | None) -> bool:
    """Plain ASCII digits that fit a bigint (`"²".isdigit()` is true, and int() refuses it)."""
    return bool(value) and value.isascii() and value.isdigit() and len(value) <= 18


class ElementFilter(admin.SimpleListFilter):
    """Element key: this dashboard's element, or the one asked for (no DISTINCT scan)."""

    title = "element"
    parameter_name = "element"

    def lookups(self, request, model_admin):
        keys = [parameters.DEFAULT_ELEMENT_KEY]
        if self.value() and self.value() not in keys:
            keys.append(self.value())
        return [(key, key) for key in keys]

    def queryset(self, request, queryset):
        return queryset.filter(element_key=self.value()) if self.value() else queryset


class ProblemFilter(admin.SimpleListFilter):
    """By an open problem the health sweep found (at most one per kind: no duplicate rows)."""

    title = "health"
    parameter_name = "problem"

    def lookups(self, request, model_admin):
        return [c for c in InstanceFilterForm.base_fields["problem"].choices if c[0]]

    def queryset(self, request, queryset):
        if not self.value():
            return queryset
        return queryset.filter(problems__kind=self.value(), problems__resolved_at__isnull=True)


class TagFilter(admin.SimpleListFilter):
    """By tag name (`?tag=name`, any tag, listed or not); lists the first tags by name."""

    title = "tag"
    parameter_name = "tag"
    LISTED = 30

    def lookups(self, request, model_admin):
        names = Tag.objects.order_by("name").values_list("name", flat=True)[: self.LISTED]
        choices = [(name, name) for name in names]
        if self.value() and self.value() not in names:
            choices.append((self.value(), self.value()))
        return choices

    def queryset(self, request, queryset):
        return search.with_tag(queryset, self.value()) if self.value() else queryset


class InstanceFilter(admin.SimpleListFilter):
    """One instance's deliveries (`?instance__id__exact=<id>`); lists only that instance."""

    title = "instance"
    parameter_name = "instance__id__exact"

    def lookups(self, request, model_admin):
        value = self.value()
        if not is_id(value):
            return []
        names = ElementInstance.objects.filter(pk=value).values_list("pk", "name")
        return [(str(pk), name) for pk, name in names]

    def queryset(self, request, queryset):
        value = self.value()
        if not value:
            return queryset
        return queryset.filter(instance_id=value) if is_id(value) else queryset.none()


class ReadOnlyAdmin(admin.ModelAdmin):
    """Records of what happened: listed and shown in the admin, never added or edited there
    (nor deleted, unless `deletable`)."""

    deletable = False

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return self.deletable and super().has_delete_permission(request, obj)
