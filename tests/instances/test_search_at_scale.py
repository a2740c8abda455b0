"""Searching instances finds names, tags and ids once each, by a plan that stays cheap (issue 11).

Whether a tag is on few instances (looked up by ids) or on many (checked per row), the same
instances are found, each once, on the instance list and in the admin; on PostgreSQL the plan
never reads every link of a tag. Odd search terms and filter values get a page, not a 500.
"""

from __future__ import annotations

import pytest
from django.db import connection

from instances.models import ElementInstance
from tests.instances.scale_helpers import ACTIVE, ADMIN_EVENTS, ADMIN_INSTANCES, INDEX


def names(response) -> list[str]:
    assert response.status_code == 200
    return [i.name for i in response.context["page_obj"]]


@pytest.mark.parametrize(
    "term, expected",
    [
        ("acme", ["Acme Payroll"]),
        ("PAYROLL", ["Acme Payroll", "Finance"]),  # by name, and by tag (listed once)
        ("finance", ["Finance"]),
        ("58992", ["Finance"]),  # the Cloud Elements id, exactly
        ("5899", []),
        ("eu", ["Finance"]),  # a tag, whole and any case
    ],
)
def test_search_matches_names_tags_and_ids_once(client, operator, make_instance, term, expected):
    client.force_login(operator)
    make_instance("Finance", tags=["payroll", "EU"], status=ACTIVE, remote_id=58992)
    make_instance("Acme Payroll", tags=["payroll"], status=ACTIVE, remote_id=12)
    make_instance("Other", tags=["misc"], status=ACTIVE, remote_id=13)

    assert sorted(names(client.get(INDEX, {"q": term}))) == expected


@pytest.mark.parametrize("few_tagged", [1_000, 1], ids=["few tagged: by ids", "many: per row"])
def test_search_by_tag_finds_the_same_whether_the_tag_is_small_or_big(
    client, operator, make_instance, monkeypatch, few_tagged
):
    from instances import search

    monkeypatch.setattr(search, "FEW_TAGGED", few_tagged)
    client.force_login(operator)
    make_instance("Finance", tags=["vip", "eu"], status=ACTIVE, remote_id=58992)
    make_instance("Payroll", tags=["vip"], status=ACTIVE, remote_id=12)
    make_instance("VIP lounge", tags=["eu"], status=ACTIVE, remote_id=13)
    make_instance("Other", tags=["misc"], status=ACTIVE, remote_id=14)

    assert sorted(names(client.get(INDEX, {"q": "vip"}))) == ["Finance", "Payroll", "VIP lounge"]
    admin = client.get(ADMIN_INSTANCES, {"q": "VIP"}).context["cl"].result_list
    assert sorted(row.name for row in admin) == ["Finance", "Payroll", "VIP lounge"]


if connection.vendor == "postgresql":  # a plan to read: defined on PostgreSQL only

    @pytest.mark.parametrize("few_tagged", [1_000, 1], ids=["few tagged: by ids", "many: per row"])
    def test_search_never_reads_every_link_of_a_tag(
        operator, make_instance, monkeypatch, few_tagged
    ):
        # Exists() inside an OR becomes a hash of every link of the tag, built before the first
        # row: a tag on half the instances would cost half the link table on every search.
        from instances import search

        monkeypatch.setattr(search, "FEW_TAGGED", few_tagged)
        for n in range(4):
            make_instance(f"Tagged {n}", tags=["vip"], status=ACTIVE)
        searched = search.search(ElementInstance.objects.all(), "vip").order_by(
            "-created_at", "-id"
        )
        sql, params = searched.values_list("pk", flat=True)[:51].query.sql_with_params()
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN " + sql, params)
            plan = "\n".join(row[0] for row in cursor.fetchall())

        assert "hashed SubPlan" not in plan, plan
        assert searched.count() == 4


def test_admin_search_finds_by_tag_without_duplicates(client, operator, make_instance):
    client.force_login(operator)
    finance = make_instance("Payroll Finance", tags=["payroll", "eu"], remote_id=58992)

    response = client.get(ADMIN_INSTANCES, {"q": "payroll"})

    assert [row.pk for row in response.context["cl"].result_list] == [finance.pk]


@pytest.mark.parametrize(
    "url",
    [
        INDEX + "?q=ac%00me",
        ADMIN_INSTANCES + "?q=ac%00me",
        ADMIN_EVENTS + "?q=ac%00me",
        ADMIN_EVENTS + "?instance__id__exact=%C2%B2",  # "²": a digit to str.isdigit()
    ],
)
def test_odd_search_terms_and_filter_values_get_a_page_not_a_500(client, operator, url):
    client.force_login(operator)

    assert client.get(url).status_code == 200
