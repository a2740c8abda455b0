"""Data and measures for the tests of cost as data grows (issue 11).

`store` ingests an event the way the receiver does, `add_instances` adds active instances with
one event each, `cost` is the SQL a page runs; `body` and `deliver` post a signed delivery to the
receiver.
"""

from __future__ import annotations

import json
import re

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from instances.events import ingest
from instances.events.models import EventNotification
from instances.events.signatures import sign
from instances.models import ElementInstance

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
