"""Pages and the receiver keep their cost as data grows (issue 11), on SQLite and PostgreSQL.

Small data sets stand in for large ones: what is checked is the shape of the work — a
constant number of queries, no GROUP BY / DISTINCT / OFFSET / unbounded COUNT to draw a page,
the receiver's round trips — and that the counts kept on ingest stay right.
"""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from instances.events import ingest
from instances.events.models import EventDailyCount, EventNotification
from instances.events.signatures import sign
from instances.models import ElementInstance
from tests.roundtrips import counting_round_trips

ACTIVE = ElementInstance.Status.ACTIVE
KEY = "scale-signing-key-0123456789"
INDEX = reverse("instances:index")
ADMIN_INSTANCES = reverse("admin:instances_elementinstance_changelist")
ADMIN_EVENTS = reverse("admin:events_eventnotification_changelist")
# What makes a page's cost grow with the table (COUNT is checked separately).
GROWING = re.compile(r"\bGROUP BY\b|\bDISTINCT\b|\bOFFSET\b", re.I)


def store(instance, n: int, *, received_at=None, dedup: str | None = None) -> int | None:
    return ingest.store_delivery(
        instance_id=instance.pk,
        fields={
            "dedup_key": dedup or f"event:scale-{instance.pk}-{n}",
            "remote_event_id": f"scale-{n}",
            "webhook_id": "",
            "signature": EventNotification.Signature.VERIFIED,
            "event_type": "CREATED",
            "object_type": "file",
            "object_id": f"/files/{n}",
            "events": [{"eventType": "CREATED", "objectType": "file", "objectId": f"/{n}"}],
            "body": "{}",
        },
        received_at=received_at,
    )


def add_instances(make_instance, count: int, start: int = 0) -> list[ElementInstance]:
    made = []
    for n in range(start, start + count):
        instance = make_instance(
            f"Scale {n:03d}", tags=["team", f"t{n % 4}"], status=ACTIVE, remote_id=5000 + n
        )
        store(instance, 0)
        made.append(instance)
    return made


def cost(client, url: str) -> list[str]:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200, url
    return [query["sql"] for query in queries.captured_queries]


def unbounded_counts(statements: list[str]) -> list[str]:
    return [s for s in statements if "COUNT(" in s.upper() and "LIMIT" not in s.upper()]


# --- Lists: constant queries, nothing that grows with the table --------------------------------

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


# --- Search ------------------------------------------------------------------------------------


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


# --- Counts kept on ingest ---------------------------------------------------------------------


def body(event_id: str) -> bytes:
    return json.dumps(
        {"message": {"eventId": event_id, "events": [{"eventType": "CREATED", "objectId": "/a"}]}}
    ).encode()


def deliver(client, instance, payload: bytes):
    return client.post(
        f"/webhooks/{instance.uuid}/",
        payload,
        content_type="application/json",
        HTTP_ELEMENTS_WEBHOOK_SIGNATURE=sign(KEY, payload),
    )


@pytest.fixture
def receiver_instance(make_instance):
    instance = make_instance("Receiver", status=ACTIVE, remote_id=4242)
    instance.webhook.signature_key = KEY
    instance.webhook.save()
    return instance


def test_each_delivery_is_counted_once_on_its_day(client, receiver_instance):
    for event_id in ["a", "b", "a", "c", "b"]:
        assert deliver(client, receiver_instance, body(event_id)).status_code == 200

    day = EventDailyCount.objects.get(instance=receiver_instance)
    assert day.day == timezone.localdate()
    assert day.count == 3 == receiver_instance.events.count()
    assert day.last_received_at == receiver_instance.events.latest("received_at").received_at


def test_the_last_event_time_never_goes_back(make_instance):
    instance = make_instance("Late", status=ACTIVE, remote_id=9)
    # Noon, local time: "five minutes earlier" stays on the same day whenever the test runs.
    now = timezone.localtime().replace(hour=12, minute=0, second=0, microsecond=0)
    store(instance, 1, received_at=now)
    store(instance, 2, received_at=now - timedelta(minutes=5))  # stored late, received earlier
    store(instance, 3, received_at=now - timedelta(days=1))

    rows = {row.day: row for row in EventDailyCount.objects.filter(instance=instance)}
    assert rows[timezone.localdate(now)].count == 2
    assert rows[timezone.localdate(now)].last_received_at == now
    assert rows[timezone.localdate(now - timedelta(days=1))].count == 1


def test_the_list_and_the_chart_read_the_counts(client, operator, receiver_instance):
    client.force_login(operator)
    for event_id in ["x", "y", "x"]:
        deliver(client, receiver_instance, body(event_id))

    listing = client.get(INDEX)
    page = client.get(receiver_instance.get_absolute_url()).content.decode()

    [row] = [i for i in listing.context["page_obj"] if i.pk == receiver_instance.pk]
    assert row.last_event_at == receiver_instance.events.latest("received_at").received_at
    assert "(2 in all)" in page
    today = timezone.localdate()
    assert f"<title>{today:%a} {today.day} {today:%b}: 2</title>" in page


# --- The receiver's round trips ----------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_delivery_costs_two_round_trips_on_postgresql_five_on_sqlite(client, receiver_instance):
    # PostgreSQL: a read, then one statement in autocommit (the event and its day's count).
    # SQLite: the read, then a short transaction (BEGIN, INSERT, upsert, COMMIT).
    budget = 2 if connection.vendor == "postgresql" else 5
    trips = []
    for event_id in ["first", "first", "second"]:  # new, redelivery, new
        with counting_round_trips() as counted:
            assert deliver(client, receiver_instance, body(event_id)).status_code == 200
        trips.append(counted.total)

    assert max(trips) <= budget, (trips, counted.statements)
    assert EventDailyCount.objects.get(instance=receiver_instance).count == 2


def test_the_receiver_reads_no_encrypted_instance_column(client, receiver_instance):
    with CaptureQueriesContext(connection) as queries:
        assert deliver(client, receiver_instance, body("cols")).status_code == 200

    lookup = queries.captured_queries[0]["sql"]
    for column in ("oauth_api_secret", "remote_token", "api_key", "ORDER BY"):
        assert column not in lookup


# --- The admin's paginator ---------------------------------------------------------------------


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


def test_the_admin_paginator_counts_a_filter_that_matches_nothing_without_sql(make_instance):
    # `.none()` or `pk__in=[]` (the event search finding nothing) compile to no SQL at all.
    from instances import admin_lists

    add_instances(make_instance, 2)
    for nothing in (EventNotification.objects.none(), EventNotification.objects.filter(pk__in=[])):
        paginator = admin_lists.EstimatedCountPaginator(nothing.order_by("-id"), 10)
        with CaptureQueriesContext(connection) as queries:
            assert paginator.count == 0
        assert queries.captured_queries == []


def test_each_delivery_updates_only_the_indexes_the_pages_read(db):
    # Every index on the events table costs every delivery an update: the key, the
    # de-duplication key per instance, the time order, and the time order per instance
    # (which also serves lookups by instance: no separate index on instance_id).
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(
            cursor, EventNotification._meta.db_table
        )
    indexed = sorted(
        {
            tuple(c["columns"])
            for c in constraints.values()
            if c["index"] or c["unique"] or c["primary_key"]
        }
    )

    assert indexed == [
        ("id",),
        ("instance_id", "dedup_key"),
        ("instance_id", "received_at", "id"),
        ("received_at", "id"),
    ]


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
