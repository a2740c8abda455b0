"""Searching and filtering the instance list.

Search matches part of a name, the whole Cloud Elements id or a tag; the filters (status, events,
tag, element, disabled at Cloud Elements) narrow the list and combine; deleted instances are
hidden unless asked for, and a malformed filter falls back to the default list. Nothing here
talks to Cloud Elements: listing reads only the local database.
"""

from __future__ import annotations

import pytest

from instances.models import ElementInstance
from tests.instances.list_helpers import INDEX, listed


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
