"""The event log on the instance page lists this instance's deliveries, newest first, paged.

Each row shows when the notification arrived (machine-readably too), its event type (with the
number of events of a batch), object type and id, and whether it was verified, verified with the
previous key or unsigned, all escaped. Twenty-five rows a page, with Newest, Newer, Older and
Oldest links that skip and repeat nothing, even for deliveries in the same microsecond; a
malformed cursor shows the newest page. The `page` fixture is in conftest.py.
"""

from __future__ import annotations

import html
import re
from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from instances.models import ElementInstance
from tests.events.event_log_helpers import (
    ACTIVE,
    UNSIGNED,
    VERIFIED_PREVIOUS,
    event_rows,
    noon,
    notify,
)


def shown(when: datetime) -> str:
    return timezone.localtime(when).strftime("%Y-%m-%d %H:%M:%S")


@pytest.fixture
def instance(make_instance) -> ElementInstance:
    """An active instance without a signature key (not the receiver's `instance` of conftest.py)."""
    return make_instance("Finance Dropbox", status=ACTIVE, remote_id=1011)


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

    # The last column says how each was forwarded: none was (no destination).
    assert rows == [
        [shown(newest.received_at), "DELETED", "folder", "/Old reports", "Unsigned", "—"],
        [shown(middle.received_at), "UPDATED", "file", "/b.txt", "Verified (previous key)", "—"],
        [shown(oldest.received_at), "CREATED", "file", "/a.txt", "Verified", "—"],
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
