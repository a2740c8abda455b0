"""Helpers shared by the tests of what the operator sees of received notifications.

`notify` stores a delivery as the receiver would have; the others read the instance page's event
log and text. Used by test_event_log_table.py, test_event_chart.py, test_event_admin.py,
test_instance_list_last_event.py and test_simulate_change.py.
"""

from __future__ import annotations

import html
import itertools
import re
from datetime import datetime, timedelta

from django.utils import timezone

from instances.events import ingest
from instances.events.models import EventNotification
from instances.models import ElementInstance

ACTIVE = ElementInstance.Status.ACTIVE
VERIFIED = EventNotification.Signature.VERIFIED
VERIFIED_PREVIOUS = EventNotification.Signature.VERIFIED_PREVIOUS_KEY
UNSIGNED = EventNotification.Signature.UNSIGNED
TAG = re.compile(r"<[^>]+>")
SERIAL = itertools.count()


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
