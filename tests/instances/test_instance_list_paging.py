"""The instance list's order and pages: newest first, fifty a page, at a constant cost.

Older / Newer / Oldest links walk the list by position (keyset, not OFFSET), keep the filters,
and list every row once even when rows share a creation time; an unknown or malformed page shows
the first; and drawing a page costs as many queries for 3 instances as for 60. Nothing here talks
to Cloud Elements: listing reads only the local database.
"""

from __future__ import annotations

import html
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from instances.models import ElementInstance
from tests.instances.list_helpers import INDEX, Status, events_on, listed

OLDER_LINK = re.compile(r'<a href="([^"]+)" rel="next">Older</a>')


NEWER_LINK = re.compile(r'<a href="([^"]+)" rel="prev">Newer</a>')


OLDEST_LINK = re.compile(r'<a href="([^"]+)">Oldest</a>')


def add_rows(make_instance, count: int, *, prefix: str, **fields) -> list[ElementInstance]:
    return [make_instance(f"{prefix} {n:02d}", **fields) for n in range(count)]


# --- Order and pagination -------------------------------------------------------------------------


def test_the_newest_instance_comes_first(as_operator, make_instance):
    add_rows(make_instance, 3, prefix="Instance")

    assert listed(as_operator.get(INDEX)) == ["Instance 02", "Instance 01", "Instance 00"]


def test_more_than_fifty_rows_are_paged_and_the_page_links_keep_the_filters(
    as_operator, make_instance
):
    matching = add_rows(make_instance, 55, prefix="Bulk", tags=["bulk"], status=Status.ACTIVE)
    add_rows(make_instance, 10, prefix="Other", status=Status.ACTIVE)

    first = as_operator.get(INDEX, {"tag": "bulk", "status": "active"})
    assert len(listed(first)) == 50
    older_url = html.unescape(OLDER_LINK.search(first.text).group(1))
    assert older_url.startswith("?tag=bulk&status=active&older=")
    assert NEWER_LINK.search(first.text) is None

    second = as_operator.get(INDEX + older_url)
    on_page_two = listed(second)
    assert len(on_page_two) == 5
    assert all(name.startswith("Bulk") for name in on_page_two)
    assert set(listed(first)) | set(on_page_two) == {i.name for i in matching}
    assert OLDER_LINK.search(second.text) is None
    newer_url = html.unescape(NEWER_LINK.search(second.text).group(1))
    assert newer_url.startswith("?tag=bulk&status=active&newer=")
    assert listed(as_operator.get(INDEX + newer_url)) == listed(first)


def test_walking_older_then_newer_lists_every_row_once(as_operator, make_instance):
    rows = add_rows(make_instance, 130, prefix="Walk")
    # Rows created in the same microsecond are told apart by id.
    ElementInstance.objects.filter(pk__in=[r.pk for r in rows[40:70]]).update(
        created_at=rows[40].created_at
    )
    expected = [
        i.name
        for i in ElementInstance.objects.filter(pk__in=[r.pk for r in rows]).order_by(
            "-created_at", "-id"
        )
    ]

    pages, response = [], as_operator.get(INDEX)
    while True:
        pages.append(listed(response))
        older = OLDER_LINK.search(response.text)
        if older is None:
            break
        response = as_operator.get(INDEX + html.unescape(older.group(1)))
    assert [len(p) for p in pages] == [50, 50, 30]
    assert sum(pages, []) == expected

    backwards = []
    while True:
        newer = NEWER_LINK.search(response.text)
        if newer is None:
            break
        response = as_operator.get(INDEX + html.unescape(newer.group(1)))
        backwards.append(listed(response))
    assert backwards == [pages[1], pages[0]]


def test_the_oldest_link_shows_the_oldest_rows(as_operator, make_instance):
    add_rows(make_instance, 60, prefix="Row")

    first = as_operator.get(INDEX, {"status": "draft"})
    oldest_url = html.unescape(OLDEST_LINK.search(first.text).group(1))
    assert oldest_url == "?status=draft&oldest=1"
    oldest = as_operator.get(INDEX + oldest_url)

    assert listed(oldest) == [f"Row {n:02d}" for n in range(49, -1, -1)]
    assert OLDER_LINK.search(oldest.text) is None
    assert NEWER_LINK.search(oldest.text)


def test_fifty_rows_fit_on_one_page(as_operator, make_instance):
    add_rows(make_instance, 50, prefix="Row")

    response = as_operator.get(INDEX)

    assert len(listed(response)) == 50
    assert "Older</a>" not in response.text


@pytest.mark.parametrize("query", ["page=9", "older=not-a-cursor", "newer=12", "older=1_2_3"])
def test_an_unknown_or_malformed_page_shows_the_first_page(as_operator, make_instance, query):
    add_rows(make_instance, 52, prefix="Row")

    assert listed(as_operator.get(f"{INDEX}?{query}"))[:2] == ["Row 51", "Row 50"]


# --- Cost -----------------------------------------------------------------------------------------


def fill(make_instance, operator, start: int, stop: int) -> None:
    statuses = [Status.ACTIVE, Status.FAILED, Status.DRAFT, Status.DELETED]
    for n in range(start, stop):
        instance = make_instance(
            f"Instance {n:02d}",
            tags=["shared", f"team-{n}"],
            status=statuses[n % len(statuses)],
            remote_id=1000 + n,
            created_by=operator if n % 2 else None,
        )
        events_on(instance, n % 3 == 0)


@pytest.mark.parametrize("query", [{}, {"q": "shared"}, {"status": "active", "events": "on"}])
def test_a_page_costs_the_same_number_of_queries_for_3_or_60_instances(
    as_operator, make_instance, operator, query
):
    fill(make_instance, operator, 0, 4)  # three shown, one deleted
    with CaptureQueriesContext(connection) as few:
        small = as_operator.get(INDEX, query)
    fill(make_instance, operator, 4, 80)  # sixty shown, twenty deleted
    with CaptureQueriesContext(connection) as many:
        large = as_operator.get(INDEX, query)

    assert len(listed(small)) < len(listed(large))
    assert len(many) == len(few), [q["sql"] for q in many.captured_queries]
