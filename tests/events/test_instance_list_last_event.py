"""The instance list shows when each instance's last event arrived, at a constant query count.

The "last event" column says how long ago the newest notification arrived (with its time
machine-readably), or a dash for an instance without one; the list stays newest first, and its
number of queries does not grow with instances or events.
"""

from __future__ import annotations

import re
from datetime import timedelta

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from tests.events.event_log_helpers import ACTIVE, notify, text

# --- The instance list ---------------------------------------------------------------------------


def list_rows(client) -> dict[str, list[str]]:
    content = client.get(reverse("instances:index")).content.decode()
    table = re.search(r'<table id="instances".*?<tbody>(.*?)</tbody>', content, re.S).group(1)
    rows = {}
    for row in re.findall(r"<tr>(.*?)</tr>", table, re.S):
        name = text(re.search(r"<th[^>]*>(.*?)</th>", row, re.S).group(1))
        rows[name] = re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
    return rows


LAST_EVENT = 6  # element, status, events, tags, owner, Cloud Elements id, last event, ...


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
