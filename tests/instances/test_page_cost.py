"""A list or events page costs the same few queries for 3 rows as for 30 (issue 11).

Small data sets stand in for large ones: what is checked is the shape of the work, on SQLite and
PostgreSQL — a constant number of queries, and no GROUP BY / DISTINCT / OFFSET / unbounded COUNT
to draw a page — for the instance list, the instance page's events, and the admin's instance,
event and history lists.
"""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.instances.scale_helpers import (
    ACTIVE,
    ADMIN_EVENTS,
    ADMIN_INSTANCES,
    GROWING,
    INDEX,
    add_instances,
    cost,
    store,
)


def unbounded_counts(statements: list[str]) -> list[str]:
    return [s for s in statements if "COUNT(" in s.upper() and "LIMIT" not in s.upper()]


LIST_URLS = [
    INDEX,
    INDEX + "?q=scale",
    INDEX + "?q=5001",
    INDEX + "?tag=team",
    INDEX + "?status=active&events=off",
    INDEX + "?oldest=1",
    ADMIN_INSTANCES,
    ADMIN_INSTANCES + "?q=scale",
    ADMIN_INSTANCES + "?tag=team&status__exact=active",
]


@pytest.mark.parametrize("url", LIST_URLS)
def test_a_list_page_costs_the_same_for_3_or_30_instances(client, operator, make_instance, url):
    client.force_login(operator)
    add_instances(make_instance, 3)
    few = cost(client, url)
    add_instances(make_instance, 27, start=3)
    many = cost(client, url)

    assert len(many) == len(few), many
    assert [s for s in many if GROWING.search(s)] == []
    if url.startswith(INDEX):
        assert unbounded_counts(many) == []


EVENT_URLS = [
    "{detail}",
    "{detail}?events_oldest=1",
    ADMIN_EVENTS,
    ADMIN_EVENTS + "?event_type=CREATED",
]


@pytest.mark.parametrize("template", EVENT_URLS)
def test_an_events_page_costs_the_same_for_3_or_40_events(
    client, operator, make_instance, template
):
    client.force_login(operator)
    instance = make_instance("Busy", status=ACTIVE, remote_id=77)
    url = template.format(detail=instance.get_absolute_url())
    for n in range(3):
        store(instance, n)
    few = cost(client, url)
    for n in range(3, 40):
        store(instance, n)
    many = cost(client, url)

    assert len(many) == len(few), many
    assert [s for s in many if GROWING.search(s)] == []
    if template.startswith("{detail}"):
        # The instance page counts nothing: its total comes from the per-day counts.
        assert [s for s in many if "COUNT(" in s.upper()] == []


def test_the_admin_event_list_does_not_list_every_instance(client, operator, make_instance):
    client.force_login(operator)
    instances = add_instances(make_instance, 5)

    content = client.get(ADMIN_EVENTS).content.decode()

    for instance in instances:
        assert f"instance__id__exact={instance.pk}" not in content
    one = client.get(ADMIN_EVENTS, {"instance__id__exact": instances[2].pk})
    assert {row.instance_id for row in one.context["cl"].result_list} == {instances[2].pk}


def test_the_admin_history_list_costs_the_same_for_3_or_30_entries(client, operator, make_instance):
    from instances.models import AuditEntry

    instance = make_instance("Audited", status=ACTIVE, remote_id=91)
    url = reverse("admin:instances_auditentry_changelist")
    client.force_login(operator)

    def add(count: int) -> None:
        for _ in range(count):
            AuditEntry.objects.create(instance=instance, action=AuditEntry.Action.SYNCED)

    add(3)
    few = cost(client, url)
    add(27)
    many = cost(client, url)

    assert len(many) == len(few), many
    assert [s for s in many if GROWING.search(s)] == []
