"""The admin of received deliveries is read-only: it lists, filters and searches, and nothing else.

Deliveries are listed across instances and filtered by event type, signature and instance, and
searched by object id. No one can add, change or delete one there, and a user without the view
permission cannot see them.
"""

from __future__ import annotations

import pytest
from django.urls import reverse

from instances.events.models import EventNotification
from instances.models import ElementInstance
from tests.events.event_log_helpers import ACTIVE, UNSIGNED, VERIFIED, noon, notify

CHANGELIST = reverse("admin:events_eventnotification_changelist")


@pytest.fixture
def instance(make_instance) -> ElementInstance:
    """An active instance without a signature key (not the receiver's `instance` of conftest.py)."""
    return make_instance("Finance Dropbox", status=ACTIVE, remote_id=1011)


# --- The admin of deliveries ---------------------------------------------------------------------


@pytest.fixture
def deliveries(instance, make_instance) -> dict[str, EventNotification]:
    other = make_instance("Other Dropbox", status=ACTIVE, remote_id=2022)
    return {
        "created": notify(instance, noon(1), event_type="CREATED", object_id="/c.txt"),
        "deleted": notify(
            instance, noon(2), event_type="DELETED", object_id="/d.txt", signature=UNSIGNED
        ),
        "other": notify(other, noon(3), event_type="CREATED", object_id="/o.txt"),
    }


def listed(client, **query) -> set[int]:
    response = client.get(CHANGELIST, query)
    assert response.status_code == 200
    return {row.pk for row in response.context["cl"].result_list}


def test_the_admin_lists_deliveries(client, operator, deliveries):
    client.force_login(operator)

    response = client.get(CHANGELIST)

    assert {row.pk for row in response.context["cl"].result_list} == {
        d.pk for d in deliveries.values()
    }
    content = response.content.decode()
    for path in ["/c.txt", "/d.txt", "/o.txt"]:
        assert path in content


def test_the_admin_filters_by_event_type(client, operator, deliveries):
    client.force_login(operator)

    assert listed(client, event_type="DELETED") == {deliveries["deleted"].pk}
    assert listed(client, event_type="CREATED") == {
        deliveries["created"].pk,
        deliveries["other"].pk,
    }


def test_the_admin_filters_by_signature(client, operator, deliveries):
    client.force_login(operator)

    assert listed(client, signature__exact=UNSIGNED) == {deliveries["deleted"].pk}
    assert listed(client, signature__exact=VERIFIED) == {
        deliveries["created"].pk,
        deliveries["other"].pk,
    }


def test_the_admin_filters_by_instance(client, operator, deliveries, instance):
    client.force_login(operator)

    assert listed(client, instance__id__exact=instance.pk) == {
        deliveries["created"].pk,
        deliveries["deleted"].pk,
    }
    other_pk = deliveries["other"].instance_id
    assert listed(client, instance__id__exact=other_pk) == {deliveries["other"].pk}


def test_the_admin_searches_by_object_id(client, operator, deliveries):
    client.force_login(operator)

    assert listed(client, q="/o.txt") == {deliveries["other"].pk}


def test_the_admin_cannot_add_deliveries(client, operator, deliveries):
    client.force_login(operator)

    changelist = client.get(CHANGELIST).content.decode()
    add = client.get(reverse("admin:events_eventnotification_add"))

    assert reverse("admin:events_eventnotification_add") not in changelist
    assert add.status_code == 403


def test_the_admin_change_page_is_read_only(client, operator, deliveries):
    client.force_login(operator)
    delivery = deliveries["created"]
    url = reverse("admin:events_eventnotification_change", args=[delivery.pk])

    shown_page = client.get(url)
    posted = client.post(url, {"event_type": "DELETED", "object_id": "/forged"})

    assert shown_page.status_code == 200
    content = shown_page.content.decode()
    assert "/c.txt" in content
    for button in ('name="_save"', 'name="_continue"', 'name="_addanother"'):
        assert button not in content
    assert posted.status_code == 403
    delivery.refresh_from_db()
    assert (delivery.event_type, delivery.object_id) == ("CREATED", "/c.txt")


def test_the_admin_cannot_delete_deliveries(client, operator, deliveries):
    client.force_login(operator)
    delivery = deliveries["created"]
    url = reverse("admin:events_eventnotification_delete", args=[delivery.pk])

    changelist = client.get(CHANGELIST).content.decode()
    shown_page = client.get(url)
    posted = client.post(url, {"post": "yes"})
    bulk = client.post(CHANGELIST, {"action": "delete_selected", "_selected_action": [delivery.pk]})

    assert "delete_selected" not in changelist
    assert shown_page.status_code == 403
    assert posted.status_code == 403
    # No delete action exists: the POST just shows the list again.
    assert bulk.status_code == 200
    assert bulk.templates[0].name == "admin/change_list.html"
    assert EventNotification.objects.count() == 3


def test_a_user_without_the_view_permission_cannot_see_deliveries(client, viewer, deliveries):
    client.force_login(viewer)

    assert client.get(CHANGELIST).status_code == 403
