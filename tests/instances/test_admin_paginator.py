"""The admin's paginator counts large results without reading them all (issue 11).

On PostgreSQL a large result is counted from the planner's estimate, not with COUNT; an exact
count never goes past the deepest page the admin links to, which is capped; a filter that
matches nothing is counted without any SQL. SQLite, which has no estimates, counts.
"""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from instances.events.models import EventNotification
from instances.models import ElementInstance
from tests.instances.scale_helpers import ADMIN_INSTANCES, add_instances, cost


def test_the_admin_counts_large_results_from_the_planner_not_with_count(
    client, operator, make_instance, monkeypatch
):
    from instances import admin_lists

    monkeypatch.setattr(admin_lists, "EXACT_COUNT_BELOW", 5)
    client.force_login(operator)
    add_instances(make_instance, 12)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE instances_elementinstance")

    unfiltered = cost(client, ADMIN_INSTANCES)
    filtered = cost(client, ADMIN_INSTANCES + "?status__exact=active")

    counts = [s for s in unfiltered + filtered if "COUNT(" in s.upper()]
    if connection.vendor == "postgresql":
        assert counts == []
        assert any("reltuples" in s for s in unfiltered)
        assert any(s.startswith("EXPLAIN") for s in filtered)
    else:  # SQLite has no estimates: small embedded databases count.
        assert len(counts) == 2


def test_the_admin_never_counts_past_its_deepest_page(client, operator, make_instance, monkeypatch):
    # A planner that expects few rows where there are many (a misestimate): the exact count
    # stops at the deepest page the admin links to instead of reading every match.
    from instances import admin_lists
    from instances.admin import ElementInstanceAdmin

    monkeypatch.setattr(admin_lists, "MAX_PAGES", 1)
    monkeypatch.setattr(ElementInstanceAdmin, "list_per_page", 5)
    monkeypatch.setattr(admin_lists, "_estimated_rows", lambda queryset: 1)
    client.force_login(operator)
    add_instances(make_instance, 12)

    with CaptureQueriesContext(connection) as queries:
        response = client.get(ADMIN_INSTANCES + "?q=scale")

    counts = [q["sql"] for q in queries.captured_queries if "COUNT(" in q["sql"].upper()]
    assert counts and all("LIMIT 5" in sql for sql in counts), counts
    assert response.context["cl"].result_count == 5


def test_the_admin_links_no_deeper_than_its_page_cap(make_instance, monkeypatch):
    from django.core.paginator import EmptyPage

    from instances import admin_lists

    monkeypatch.setattr(admin_lists, "MAX_PAGES", 2)
    add_instances(make_instance, 8)
    ordered = ElementInstance.objects.order_by("-created_at", "-id")

    paginator = admin_lists.EstimatedCountPaginator(ordered, 3)

    assert paginator.num_pages == 2
    assert [i.pk for i in paginator.page(2).object_list] == [i.pk for i in ordered[3:6]]
    with pytest.raises(EmptyPage):
        paginator.page(3)


def test_the_admin_paginator_counts_a_filter_that_matches_nothing_without_sql(make_instance):
    # `.none()` or `pk__in=[]` (the event search finding nothing) compile to no SQL at all.
    from instances import admin_lists

    add_instances(make_instance, 2)
    for nothing in (EventNotification.objects.none(), EventNotification.objects.filter(pk__in=[])):
        paginator = admin_lists.EstimatedCountPaginator(nothing.order_by("-id"), 10)
        with CaptureQueriesContext(connection) as queries:
            assert paginator.count == 0
        assert queries.captured_queries == []
