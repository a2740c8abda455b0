"""The instance list: search, filters, pagination, badges, switches, and a bounded query count.

Nothing here talks to Cloud Elements: listing reads only the local database.
"""

from __future__ import annotations

import html
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from instances.models import ElementInstance, WebhookSettings

Status = ElementInstance.Status
INDEX = reverse("instances:index")
ROW_NAME = re.compile(r'<th scope="row">(?:<input [^>]+> )?<a href="[^"]+">([^<]+)</a></th>')
OLDER_LINK = re.compile(r'<a href="([^"]+)" rel="next">Older</a>')
NEWER_LINK = re.compile(r'<a href="([^"]+)" rel="prev">Newer</a>')
OLDEST_LINK = re.compile(r'<a href="([^"]+)">Oldest</a>')


def listed(response) -> list[str]:
    """Names of the instances in the table, in page order."""
    assert response.status_code == 200
    return [html.unescape(name) for name in ROW_NAME.findall(response.text)]


def row(page: str, instance: ElementInstance) -> str:
    """The table row (<tr>…</tr>) of `instance`."""
    rows = [r for r in page.split("<tr>") if f'href="{instance.get_absolute_url()}"' in r]
    assert len(rows) == 1, f"{instance.name} is not listed once"
    return rows[0].split("</tr>")[0]


def events_on(instance: ElementInstance, enabled: bool = True) -> ElementInstance:
    WebhookSettings.objects.filter(instance=instance).update(enabled=enabled)
    return instance


def toggle_action(instance: ElementInstance) -> str:
    return f'action="{reverse("instances:events", args=[instance.uuid])}"'


@pytest.fixture
def cast(make_instance, operator) -> dict[str, ElementInstance]:
    """Five instances, one of each kind the list must tell apart."""
    return {
        "finance": events_on(
            make_instance(
                "Finance Dropbox",
                tags=["payroll", "eu"],
                status=Status.ACTIVE,
                remote_id=58992,
                created_by=operator,
            )
        ),
        "legal": make_instance(
            "Legal Dropbox", tags=["legal"], status=Status.ACTIVE, remote_id=61001
        ),
        "sales": make_instance(
            "Sales Business", tags=["eu"], status=Status.FAILED, element_key="dropboxbusiness"
        ),
        "old": make_instance(
            "Old Payroll Dropbox", tags=["payroll"], status=Status.DELETED, remote_id=40000
        ),
        "draft": make_instance("Draft Dropbox"),
    }


@pytest.fixture
def as_operator(client, operator):
    client.force_login(operator)
    return client


# --- Search and filters --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "query, expected",
    [
        ({"q": "finance"}, ["Finance Dropbox"]),  # part of the name, any case
        ({"q": "  Legal "}, ["Legal Dropbox"]),
        ({"q": "58992"}, ["Finance Dropbox"]),  # the Cloud Elements id
        ({"q": "PAYROLL"}, ["Finance Dropbox"]),  # a tag; the deleted one stays hidden
        ({"q": "eu"}, ["Sales Business", "Finance Dropbox"]),
        ({"q": "nothing like it"}, []),
    ],
)
def test_search_matches_name_cloud_elements_id_and_tag(as_operator, cast, query, expected):
    assert sorted(listed(as_operator.get(INDEX, query))) == sorted(expected)


def test_search_by_id_needs_the_whole_id(as_operator, cast):
    assert listed(as_operator.get(INDEX, {"q": "5899"})) == []


@pytest.mark.parametrize(
    "query, expected",
    [
        ({"status": "active"}, ["Finance Dropbox", "Legal Dropbox"]),
        ({"status": "failed"}, ["Sales Business"]),
        ({"status": "draft"}, ["Draft Dropbox"]),
        ({"events": "on"}, ["Finance Dropbox"]),
        ({"events": "off"}, ["Legal Dropbox", "Sales Business", "Draft Dropbox"]),
        ({"tag": "eu"}, ["Finance Dropbox", "Sales Business"]),
        ({"tag": "EU"}, ["Finance Dropbox", "Sales Business"]),
        ({"element": "dropboxbusiness"}, ["Sales Business"]),
        ({"status": "active", "tag": "eu"}, ["Finance Dropbox"]),
        ({"events": "off", "element": "dropbox"}, ["Legal Dropbox", "Draft Dropbox"]),
    ],
)
def test_filters_narrow_the_list(as_operator, cast, query, expected):
    assert sorted(listed(as_operator.get(INDEX, query))) == sorted(expected)


def test_instances_disabled_at_cloud_elements_can_be_listed_alone(as_operator, cast):
    ElementInstance.objects.filter(name="Legal Dropbox").update(remote_disabled=True)

    assert listed(as_operator.get(INDEX, {"disabled": "yes"})) == ["Legal Dropbox"]
    assert "Legal Dropbox" not in listed(as_operator.get(INDEX, {"disabled": "no"}))
    page = as_operator.get(INDEX, {"disabled": "yes"}).content.decode()
    assert '<option value="yes" selected>Disabled at Cloud Elements</option>' in page


def test_deleted_instances_are_hidden_unless_asked_for(as_operator, cast):
    default = listed(as_operator.get(INDEX))
    deleted = listed(as_operator.get(INDEX, {"status": "deleted"}))

    assert "Old Payroll Dropbox" not in default
    assert sorted(default) == [
        "Draft Dropbox",
        "Finance Dropbox",
        "Legal Dropbox",
        "Sales Business",
    ]
    assert deleted == ["Old Payroll Dropbox"]


def test_the_tag_filter_offers_the_tags_in_use(as_operator, cast):
    page = as_operator.get(INDEX, {"tag": "legal"}).text

    for tag in ["eu", "legal", "payroll"]:
        assert f'<option value="{tag}"' in page
    assert '<option value="legal" selected>' in page


def test_filters_that_match_nothing_say_so(as_operator, cast):
    response = as_operator.get(INDEX, {"status": "active", "tag": "legal", "events": "on"})

    assert listed(response) == []
    assert "No instance matches these filters." in response.text


def test_a_malformed_filter_falls_back_to_the_default_list(as_operator, cast):
    assert sorted(listed(as_operator.get(INDEX, {"status": "bogus"}))) == sorted(
        listed(as_operator.get(INDEX))
    )


# --- Order and pagination ------------------------------------------------------------------------


def add_rows(make_instance, count: int, *, prefix: str, **fields) -> list[ElementInstance]:
    return [make_instance(f"{prefix} {n:02d}", **fields) for n in range(count)]


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


# --- What each row shows -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fields, badges",
    [
        ({"status": Status.ACTIVE}, ['status-active">Active<']),
        ({"status": Status.DRAFT}, ['status-draft">Draft<']),
        ({"status": Status.FAILED}, ['status-failed">Failed<']),
        ({"status": Status.UNKNOWN}, ['status-unknown">Unknown (reconciling)<']),
        ({"status": Status.AUTHORIZING}, ['status-authorizing">Authorizing<']),
        (
            {"status": Status.ACTIVE, "remote_missing": True},
            ['status-active">Active<', ">Missing at Cloud Elements<"],
        ),
        (
            {"status": Status.ACTIVE, "remote_valid": False},
            ['status-active">Active<', 'status-failed">Invalid<'],
        ),
        (
            {"status": Status.ACTIVE, "remote_disabled": True},
            ['status-active">Active<', 'status-unknown">Disabled<'],
        ),
    ],
)
def test_each_row_carries_its_status_badges(as_operator, make_instance, fields, badges):
    instance = make_instance("Badged", **fields)

    cells = row(as_operator.get(INDEX).text, instance)

    for badge in badges:
        assert badge in cells
    assert cells.count('class="status ') == len(badges)


def test_each_active_row_has_one_events_switch_and_others_none(as_operator, cast):
    page = as_operator.get(INDEX).text

    assert page.count(toggle_action(cast["finance"])) == 1
    assert page.count(toggle_action(cast["legal"])) == 1
    assert toggle_action(cast["sales"]) not in page
    assert toggle_action(cast["draft"]) not in page
    assert page.count('role="switch"') == 2


def test_the_switch_offers_the_opposite_state_and_returns_to_this_page(as_operator, cast):
    page = as_operator.get(INDEX, {"tag": "eu"}).text

    finance = row(page, cast["finance"])  # events on
    assert 'name="enabled" value="off"' in finance
    assert 'aria-checked="true"' in finance
    assert 'name="next" value="/instances/?tag=eu"' in finance
    assert "csrfmiddlewaretoken" in finance

    legal = row(as_operator.get(INDEX).text, cast["legal"])  # events off
    assert 'name="enabled" value="on"' in legal
    assert 'aria-checked="false"' in legal


def test_each_row_links_to_its_page_and_its_admin_change_page(as_operator, cast):
    page = as_operator.get(INDEX).text

    for key in ["finance", "legal", "sales", "draft"]:
        instance = cast[key]
        cells = row(page, instance)
        admin_url = reverse("admin:instances_elementinstance_change", args=[instance.pk])
        assert f'href="{admin_url}"' in cells
        assert f'href="{instance.get_absolute_url()}"' in cells


def test_each_row_shows_element_tags_id_and_creator(as_operator, cast):
    cells = row(as_operator.get(INDEX).text, cast["finance"])

    assert "<td>dropbox</td>" in cells
    assert '<span class="tag">eu</span>' in cells
    assert '<span class="tag">payroll</span>' in cells
    assert "<td>58992</td>" in cells
    assert "by alice" in cells
    assert cast["finance"].oauth_api_secret not in cells


# --- Cost ----------------------------------------------------------------------------------------


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


# --- A view-only user ----------------------------------------------------------------------------


def test_a_view_only_user_sees_the_list_without_switches_or_sync_all(client, viewer, cast):
    client.force_login(viewer)

    response = client.get(INDEX)

    assert sorted(listed(response)) == [
        "Draft Dropbox",
        "Finance Dropbox",
        "Legal Dropbox",
        "Sales Business",
    ]
    page = response.text
    assert 'role="switch"' not in page
    assert toggle_action(cast["finance"]) not in page
    assert reverse("instances:sync_all") not in page
    assert "Sync all" not in page
    assert reverse("instances:new") not in row_free(page)
    assert '<span class="events-state">On</span>' in row(page, cast["finance"])


def test_an_operator_sees_the_switches_and_sync_all(as_operator, cast):
    page = as_operator.get(INDEX).text

    assert 'role="switch"' in page
    assert f'action="{reverse("instances:sync_all")}"' in page
    assert "Sync all from Cloud Elements" in page


def row_free(page: str) -> str:
    """The page without its table, where the object tools live."""
    return page.split('<table id="instances"')[0]


def test_the_list_needs_a_login(client, cast):
    response = client.get(INDEX)

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))
