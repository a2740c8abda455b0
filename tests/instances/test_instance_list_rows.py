"""What each row of the instance list shows.

Its status badges (including missing, invalid or disabled at Cloud Elements), one events switch
on an active instance that offers the opposite state and returns to the same page, links to the
instance's page and admin change page, and its element, tags, id and creator, never a secret.
Nothing here talks to Cloud Elements: listing reads only the local database.
"""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.instances.list_helpers import INDEX, Status, row, toggle_action


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
            ['status-active">Active<', ">Deleted at Cloud Elements<"],
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
