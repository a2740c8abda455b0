"""What the operator sees of received notifications: the event log and chart on the instance
page, the last event in the list, the read-only admin of deliveries, and the sandbox's
"Simulate a Dropbox change" action, which delivers over real HTTP to the receiver.
"""

from __future__ import annotations

import html
import itertools
import re
from datetime import datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import dateformat, timezone

from instances.cloud_elements import client as cloud_elements
from instances.events import ingest
from instances.events.models import EventNotification
from instances.models import ElementInstance
from instances.sandbox.models import SandboxDelivery, SandboxInstance
from tests.sandbox_helpers import make_active

ACTIVE = ElementInstance.Status.ACTIVE
VERIFIED = EventNotification.Signature.VERIFIED
VERIFIED_PREVIOUS = EventNotification.Signature.VERIFIED_PREVIOUS_KEY
UNSIGNED = EventNotification.Signature.UNSIGNED
KEY = "event-log-signing-key-Rr5"
CHANGELIST = reverse("admin:events_eventnotification_changelist")
TAG = re.compile(r"<[^>]+>")
SERIAL = itertools.count()
BAR = re.compile(
    r'<rect class="bar( empty)?" x="(\d+)" y="(\d+)" width="(\d+)" height="(\d+)">'
    r"<title>([^<]*)</title></rect>"
)


# --- Helpers -------------------------------------------------------------------------------------


def noon(days_ago: int) -> datetime:
    """Local noon `days_ago` days back: the same local date whatever the hour of the run."""
    today = timezone.localtime().replace(hour=12, minute=0, second=0, microsecond=0)
    return today - timedelta(days=days_ago)


def notify(
    instance: ElementInstance,
    received_at: datetime | None = None,
    *,
    event_type: str = "CREATED",
    object_type: str = "file",
    object_id: str = "/Reports/q3.pdf",
    signature: str = VERIFIED,
    events: list | None = None,
) -> EventNotification:
    """Store a delivery as the receiver would have."""
    stored = ingest.store_delivery(
        instance_id=instance.pk,
        fields={
            "dedup_key": f"event:test-{next(SERIAL)}",
            "remote_event_id": "evt",
            "webhook_id": "",
            "signature": signature,
            "event_type": event_type,
            "object_type": object_type,
            "object_id": object_id,
            "events": events
            or [{"eventType": event_type, "objectType": object_type, "objectId": object_id}],
            "body": "{}",
        },
        received_at=received_at or timezone.now(),
    )
    return EventNotification.objects.get(pk=stored)


def text(fragment: str) -> str:
    return " ".join(html.unescape(TAG.sub(" ", fragment)).split())


def event_rows(page: str) -> list[list[str]]:
    """The event log's rows, as lists of cell texts."""
    table = re.search(r'<table class="events-table">(.*?)</table>', page, re.S).group(1)
    body = re.search(r"<tbody>(.*?)</tbody>", table, re.S).group(1)
    return [
        [text(cell) for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
        for row in re.findall(r"<tr>(.*?)</tr>", body, re.S)
    ]


def chart_svg(page: str) -> str:
    return re.search(r'<figure class="chart">\s*(<svg\b.*?</svg>)', page, re.S).group(1)


def chart(page: str) -> list[dict]:
    svg = chart_svg(page)
    return [
        {"empty": bool(m[0]), "y": int(m[2]), "height": int(m[4]), "title": m[5]}
        for m in BAR.findall(svg)
    ]


def count_of(bar: dict) -> int:
    return int(bar["title"].rsplit(": ", 1)[1])


def shown(when: datetime) -> str:
    return timezone.localtime(when).strftime("%Y-%m-%d %H:%M:%S")


def day_label(days_ago: int) -> str:
    return dateformat.format(timezone.localdate() - timedelta(days=days_ago), "D j M")


@pytest.fixture
def instance(make_instance) -> ElementInstance:
    return make_instance("Finance Dropbox", status=ACTIVE, remote_id=1011)


@pytest.fixture
def page(client, operator):
    client.force_login(operator)

    def get(instance: ElementInstance, **query) -> str:
        response = client.get(instance.get_absolute_url(), query)
        assert response.status_code == 200
        return response.content.decode()

    return get


# --- The event log -------------------------------------------------------------------------------


def test_the_event_log_lists_deliveries_newest_first_with_their_details(instance, page):
    oldest = notify(instance, noon(3), event_type="CREATED", object_id="/a.txt")
    newest = notify(
        instance,
        timezone.now() - timedelta(minutes=5),
        event_type="DELETED",
        object_type="folder",
        object_id="/Old reports",
        signature=UNSIGNED,
    )
    middle = notify(
        instance, noon(1), event_type="UPDATED", object_id="/b.txt", signature=VERIFIED_PREVIOUS
    )

    rows = event_rows(page(instance))

    assert rows == [
        [shown(newest.received_at), "DELETED", "folder", "/Old reports", "Unsigned"],
        [shown(middle.received_at), "UPDATED", "file", "/b.txt", "Verified (previous key)"],
        [shown(oldest.received_at), "CREATED", "file", "/a.txt", "Verified"],
    ]


def test_the_event_log_marks_the_time_machine_readably(instance, page):
    delivery = notify(instance, noon(2))

    assert f'<time datetime="{timezone.localtime(delivery.received_at).isoformat()}"' in page(
        instance
    )


def test_the_event_log_shows_how_many_events_a_notification_carried(instance, page):
    events = [{"eventType": "CREATED", "objectType": "file", "objectId": f"/{n}"} for n in "abc"]
    notify(instance, object_id="/a", events=events)

    rows = event_rows(page(instance))

    assert rows[0][1] == "CREATED (3 events)"


def test_the_event_log_escapes_what_cloud_elements_sent(instance, page):
    notify(instance, object_id="<script>alert(1)</script>", object_type="<b>file</b>")

    content = page(instance)

    assert "<script>alert(1)</script>" not in content
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in content
    assert "<b>file</b>" not in content


def test_an_empty_event_log_says_so_and_that_events_are_off(instance, page):
    rows = event_rows(page(instance))

    assert rows == [["No event notification received yet. Events are off for this instance."]]


def test_the_event_log_shows_only_this_instances_deliveries(instance, make_instance, page):
    other = make_instance("Other Dropbox", status=ACTIVE, remote_id=2022)
    notify(other, object_id="/not-mine.txt")
    notify(instance, object_id="/mine.txt")

    rows = event_rows(page(instance))

    assert [row[3] for row in rows] == ["/mine.txt"]


EVENT_LINK = {
    name: re.compile(rf'<a href="([^"]+)"(?: rel="\w+")?>{name}</a>')
    for name in ("Newest", "Newer", "Older", "Oldest")
}


def event_link(content: str, name: str) -> str | None:
    found = EVENT_LINK[name].search(content)
    return html.unescape(found.group(1)) if found else None


def follow(client, instance, link: str) -> str:
    path, _, _fragment = link.partition("#")
    response = client.get(instance.get_absolute_url() + path)
    assert response.status_code == 200
    return response.content.decode()


def test_thirty_events_are_paged_older_and_newer(client, operator, instance, page):
    start = timezone.now() - timedelta(hours=1)
    for n in range(30):
        notify(instance, start + timedelta(minutes=n), object_id=f"/file-{n:02}.txt")
    client.force_login(operator)

    first = page(instance)
    second = follow(client, instance, event_link(first, "Older"))
    back = follow(client, instance, event_link(second, "Newer"))

    first_ids = [row[3] for row in event_rows(first)]
    second_ids = [row[3] for row in event_rows(second)]
    assert first_ids == [f"/file-{n:02}.txt" for n in range(29, 4, -1)]
    assert second_ids == [f"/file-{n:02}.txt" for n in range(4, -1, -1)]
    assert event_link(first, "Older").endswith("#events")
    assert event_link(first, "Newer") is None
    assert event_link(second, "Older") is None
    assert [row[3] for row in event_rows(back)] == first_ids
    assert event_link(back, "Newer") is None
    oldest = follow(client, instance, event_link(first, "Oldest"))
    assert [row[3] for row in event_rows(oldest)] == [
        f"/file-{n:02}.txt" for n in range(24, -1, -1)
    ]
    assert "(30 in all)" in first


def test_paging_through_events_that_share_a_time_skips_and_repeats_nothing(
    client, operator, instance, page
):
    # Deliveries in the same microsecond are told apart by id, so none falls between pages.
    moment = timezone.now() - timedelta(minutes=5)
    stored = [notify(instance, moment, object_id=f"/same-{n:02}") for n in range(40)]
    notify(instance, moment + timedelta(seconds=1), object_id="/later")
    client.force_login(operator)

    seen, content = [], page(instance)
    while True:
        seen += [row[3] for row in event_rows(content)]
        older = event_link(content, "Older")
        if older is None:
            break
        content = follow(client, instance, older)

    assert seen == ["/later"] + [e.object_id for e in sorted(stored, key=lambda e: -e.pk)]


@pytest.mark.parametrize(
    "query", ["events_older=99", "events_older=abc", "events_newer=-1", "events_older=1_x"]
)
def test_a_malformed_events_cursor_shows_the_newest_page(instance, page, query):
    for n in range(30):
        notify(instance, timezone.now() - timedelta(minutes=n), object_id=f"/f{n}")

    key, value = query.split("=")
    rows = event_rows(page(instance, **{key: value}))

    assert len(rows) == 25


# --- The 14-day chart ----------------------------------------------------------------------------


def test_the_chart_has_one_bar_per_day_for_fourteen_days_ending_today(instance, page):
    bars = chart(page(instance))

    assert len(bars) == 14
    assert [bar["title"] for bar in bars] == [f"{day_label(n)}: 0" for n in range(13, -1, -1)]
    assert all(bar["empty"] and bar["height"] == 1 for bar in bars)


def test_the_busiest_day_has_the_tallest_bar(instance, page):
    for _ in range(3):
        notify(instance, noon(2))
    notify(instance, noon(5))
    notify(instance, noon(0))

    bars = chart(page(instance))

    busiest = bars[13 - 2]
    assert busiest["title"] == f"{day_label(2)}: 3"
    assert all(bar["height"] < busiest["height"] for bar in bars if bar is not busiest)
    assert bars[13 - 5]["title"] == f"{day_label(5)}: 1"
    assert bars[13]["title"] == f"{day_label(0)}: 1"
    assert 0 < bars[13 - 5]["height"] < busiest["height"]
    # Bars stand on the baseline: y + height is the chart's height for each.
    assert len({bar["y"] + bar["height"] for bar in bars}) == 1
    assert sum(1 for bar in bars if not bar["empty"]) == 3


def test_events_older_than_fourteen_days_are_not_counted(instance, page):
    for _ in range(5):
        notify(instance, noon(20))
    for _ in range(4):
        notify(instance, noon(14))
    notify(instance, noon(13))
    for _ in range(3):
        notify(instance, noon(1))

    bars = chart(page(instance))

    assert sum(count_of(bar) for bar in bars) == 4
    assert bars[0]["title"] == f"{day_label(13)}: 1"
    assert max(bars, key=lambda bar: bar["height"])["title"] == f"{day_label(1)}: 3"
    assert not any(day_label(14) in bar["title"] for bar in bars)


def test_the_chart_counts_only_this_instance(instance, make_instance, page):
    other = make_instance("Other Dropbox", status=ACTIVE, remote_id=2022)
    for _ in range(4):
        notify(other, noon(1))
    notify(instance, noon(1))

    bars = chart(page(instance))

    assert sum(count_of(bar) for bar in bars) == 1


def test_the_page_runs_no_inline_script(instance, page, client, settings):
    notify(instance, noon(1))

    response = client.get(instance.get_absolute_url())
    content = response.content.decode()

    tags = re.findall(r"<script\b[^>]*>", content, re.I)
    inline = [tag for tag in tags if " src=" not in tag and 'type="application/json"' not in tag]
    assert tags, "the admin's own scripts are expected"
    assert inline == []
    # Served from this site's static files, never a CDN.
    sources = re.findall(r'<script\b[^>]*\ssrc="([^"]+)"', content, re.I)
    assert sources and all(src.startswith(settings.STATIC_URL) for src in sources)
    for body in re.findall(r"<script\b[^>]*>(.*?)</script>", content, re.S | re.I):
        assert body.strip() == "" or body.lstrip().startswith(("{", "["))
    svg = chart_svg(content)
    assert 'role="img"' in svg
    assert "<script" not in svg.lower()
    assert not re.search(r"\son[a-z]+\s*=", svg, re.I)
    assert "unsafe-inline" not in response["Content-Security-Policy"]


# --- The instance list ---------------------------------------------------------------------------


def list_rows(client) -> dict[str, list[str]]:
    content = client.get(reverse("instances:index")).content.decode()
    table = re.search(r'<table id="instances".*?<tbody>(.*?)</tbody>', content, re.S).group(1)
    rows = {}
    for row in re.findall(r"<tr>(.*?)</tr>", table, re.S):
        name = text(re.search(r"<th[^>]*>(.*?)</th>", row, re.S).group(1))
        rows[name] = re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
    return rows


LAST_EVENT = 5  # element, status, events, tags, Cloud Elements id, last event, ...


def test_the_instance_list_shows_when_the_last_event_arrived(client, operator, make_instance):
    busy = make_instance("Busy Dropbox", status=ACTIVE, remote_id=1011)
    make_instance("Quiet Dropbox", status=ACTIVE, remote_id=2022)
    latest = timezone.now() - timedelta(hours=2, seconds=10)
    notify(busy, timezone.now() - timedelta(days=3), object_id="/old.txt")
    notify(busy, latest, object_id="/new.txt")
    client.force_login(operator)

    rows = list_rows(client)

    busy_cell = rows["Busy Dropbox"][LAST_EVENT]
    assert text(busy_cell) == "2 hours ago"
    assert f'datetime="{timezone.localtime(latest).isoformat()}"' in busy_cell
    assert text(rows["Quiet Dropbox"][LAST_EVENT]) == "—"


def test_the_instance_list_query_count_does_not_grow_with_events(client, operator, make_instance):
    client.force_login(operator)
    first = make_instance("I0", status=ACTIVE, remote_id=100, tags=["a"])
    notify(first, object_id="/only.txt")
    with CaptureQueriesContext(connection) as few:
        assert client.get(reverse("instances:index")).status_code == 200

    for n in range(1, 8):
        instance = make_instance(f"I{n}", status=ACTIVE, remote_id=100 + n, tags=["a", f"t{n}"])
        for m in range(12):
            notify(instance, timezone.now() - timedelta(hours=m), object_id=f"/{n}/{m}")
    with CaptureQueriesContext(connection) as many:
        response = client.get(reverse("instances:index"))

    # The newest events are seconds old ("just now"), the first one too.
    assert len(re.findall(r"(?: ago|just now)</time>", response.content.decode())) == 8
    assert len(many) == len(few)


def test_the_instance_list_stays_newest_first_with_its_last_event_column(
    client, operator, make_instance
):
    names = [f"Dropbox {n}" for n in range(5)]
    for n, name in enumerate(names):
        created = make_instance(name, status=ACTIVE, remote_id=300 + n)
        notify(created, object_id=f"/{n}")
    client.force_login(operator)

    response = client.get(reverse("instances:index"))

    assert response.status_code == 200
    assert list(list_rows(client)) == names[::-1]


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


# --- Simulate a Dropbox change, over real HTTP ---------------------------------------------------

live = pytest.mark.django_db(transaction=True)


@pytest.fixture
def loopback_only(monkeypatch):
    """Keep every request on 127.0.0.1 even if the environment names an HTTP proxy."""
    for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("no_proxy", "*")
    monkeypatch.setenv("NO_PROXY", "*")


def connected(
    make_instance, site_url: str, *, events: bool, remote_key: str = KEY, local_key: str = KEY
) -> ElementInstance:
    """An active instance whose sandbox twin delivers to this dashboard's receiver."""
    instance = make_active(make_instance, site_url, "Finance Dropbox", events=events)
    configuration: dict = {"event.notification.callback.url": instance.webhook.callback_url}
    if remote_key:
        configuration["event.notification.signature.key"] = remote_key
    cloud_elements.update_instance(instance.remote_id, {"configuration": configuration})
    instance.webhook.signature_key = local_key
    instance.webhook.save()
    return instance


def simulate(client, instance: ElementInstance, event_type: str, path: str = "/Reports/q3.pdf"):
    return client.post(
        reverse("sandbox:simulate", args=[instance.remote_id]),
        {"event_type": event_type, "path": path, "next": instance.get_absolute_url()},
        follow=True,
    )


def messages_of(response) -> list[tuple[str, str]]:
    return [(m.level_tag, m.message) for m in response.context["messages"]]


@live
@pytest.mark.parametrize(
    "change",
    [
        ("CREATED", "/Reports/q3.pdf", "file", "/Reports/q3.pdf"),
        ("DELETED", "/Reports/", "folder", "/Reports"),
    ],
    ids=["file-created", "folder-deleted"],
)
def test_a_simulated_change_arrives_as_a_verified_notification(
    sandbox_site, loopback_only, client, operator, make_instance, change
):
    event_type, path, object_type, object_id = change
    instance = connected(make_instance, sandbox_site.url, events=True)
    client.force_login(operator)

    response = simulate(client, instance, event_type, path)

    stored = EventNotification.objects.get()
    assert stored.instance == instance
    assert stored.signature == VERIFIED
    assert (stored.event_type, stored.object_type, stored.object_id) == (
        event_type,
        object_type,
        object_id,
    )
    sent = SandboxDelivery.objects.get()
    assert sent.status_code == 200
    assert sent.url == f"{sandbox_site.url}/webhooks/{instance.uuid}/"
    assert stored.remote_event_id == sent.event_id
    assert stored.webhook_id == sent.webhook_id
    assert stored.body == sent.body
    assert messages_of(response) == [
        ("success", f"Delivered {event_type} {path}; the callback answered 200.")
    ]
    # Back on the instance page, the delivery is in the log.
    assert response.redirect_chain[-1][0] == instance.get_absolute_url()
    assert event_rows(response.content.decode())[0][1:] == [
        event_type,
        object_type,
        object_id,
        "Verified",
    ]


@live
def test_with_events_disabled_nothing_is_delivered_and_the_message_says_so(
    sandbox_site, loopback_only, client, operator, make_instance
):
    instance = connected(make_instance, sandbox_site.url, events=False)
    client.force_login(operator)

    response = simulate(client, instance, "CREATED")

    assert messages_of(response) == [("warning", "Events are disabled, so nothing was delivered.")]
    assert not SandboxDelivery.objects.exists()
    assert not EventNotification.objects.exists()


@live
def test_a_key_mismatch_is_reported_as_a_failed_delivery(
    sandbox_site, loopback_only, client, operator, make_instance
):
    instance = connected(
        make_instance, sandbox_site.url, events=True, local_key="a-different-key-Mm3"
    )
    client.force_login(operator)

    response = simulate(client, instance, "UPDATED", "/Reports/q3.pdf")

    assert messages_of(response) == [("error", "Delivery of UPDATED /Reports/q3.pdf failed: 401.")]
    assert SandboxDelivery.objects.get().status_code == 401
    assert not EventNotification.objects.exists()


@live
def test_without_keys_the_simulated_change_is_stored_as_unsigned(
    sandbox_site, loopback_only, client, operator, make_instance
):
    instance = connected(make_instance, sandbox_site.url, events=True, remote_key="", local_key="")
    client.force_login(operator)

    simulate(client, instance, "CREATED")

    assert EventNotification.objects.get().signature == UNSIGNED


@live
@pytest.mark.parametrize("event_type", ["RETRIEVED", "created", ""])
def test_an_invalid_change_gives_an_error_message(
    sandbox_site, loopback_only, client, operator, make_instance, event_type
):
    instance = connected(make_instance, sandbox_site.url, events=True)
    client.force_login(operator)

    response = simulate(client, instance, event_type)

    assert messages_of(response) == [("error", "Choose a change: created, updated or deleted.")]
    assert not SandboxDelivery.objects.exists()
    assert not EventNotification.objects.exists()


@live
def test_a_view_only_user_cannot_simulate(
    sandbox_site, loopback_only, client, viewer, make_instance
):
    instance = connected(make_instance, sandbox_site.url, events=True)
    client.force_login(viewer)

    response = client.post(
        reverse("sandbox:simulate", args=[instance.remote_id]),
        {"event_type": "CREATED", "path": "/Reports/q3.pdf"},
    )

    assert response.status_code == 403
    assert not SandboxDelivery.objects.exists()
    assert not EventNotification.objects.exists()


def test_the_simulate_form_is_shown_to_operators_only(client, operator, viewer, make_instance):
    instance = make_instance("Finance Dropbox", status=ACTIVE, remote_id=1011)
    action = reverse("sandbox:simulate", args=[1011])

    client.force_login(operator)
    as_operator = client.get(instance.get_absolute_url()).content.decode()
    client.force_login(viewer)
    as_viewer = client.get(instance.get_absolute_url()).content.decode()

    assert f'action="{action}"' in as_operator
    assert f'action="{action}"' not in as_viewer
    # The viewer still reads the event log.
    assert 'class="events-table"' in as_viewer


def test_simulate_accepts_only_post(client, operator, db):
    remote = SandboxInstance.objects.create(element_key="dropbox", name="x", token="t")
    client.force_login(operator)

    response = client.get(reverse("sandbox:simulate", args=[remote.pk]))

    assert response.status_code == 405
