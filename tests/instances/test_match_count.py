"""The list's "N instances match" costs the same at any size: exact up to 1,000, past that the
planner's estimate on PostgreSQL ("about N") and "more than 1,000" on SQLite, never a COUNT
over every match."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.models import Q
from django.test.utils import CaptureQueriesContext

from instances import search
from instances.models import ElementInstance

pytestmark = pytest.mark.django_db


def _many(count: int) -> None:
    ElementInstance.objects.bulk_create(
        ElementInstance(name=f"Bulk {n}", status="active") for n in range(count)
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE" if connection.vendor == "postgresql" else "SELECT 1")


def test_few_matches_are_counted_exactly(make_instance):
    for n in range(3):
        make_instance(f"Acme {n}")
    make_instance("Other")

    matched = search.count_matching(ElementInstance.objects.filter(name__startswith="Acme"))

    assert matched == (3, True, False) and matched.words == "3"


def test_past_the_cap_the_count_is_estimated_not_read(settings):
    _many(1_500)
    with CaptureQueriesContext(connection) as queries:
        matched = search.count_matching(ElementInstance.objects.filter(~Q(name="")))

    assert not matched.exact
    if connection.vendor == "postgresql":
        # The planner's estimate, from statistics: no row read past EXPLAIN.
        assert 1_000 < matched.count <= 3_000 and matched.words.startswith("about ")
        assert len(queries) == 1 and queries[0]["sql"].startswith("EXPLAIN")
    else:
        assert matched == (1_000, False, True) and matched.words == "more than 1,000"
        assert "LIMIT 1001" in queries[-1]["sql"]
