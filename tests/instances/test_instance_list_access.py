"""Who sees the instance list, and what each may do from it.

A view-only user sees the list without the events switches, Sync all or the New instance
button; an operator sees the switches and Sync all; a signed-out visitor is sent to the login
page.
"""

from __future__ import annotations

from django.urls import reverse

from tests.instances.list_helpers import INDEX, listed, row, toggle_action


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
