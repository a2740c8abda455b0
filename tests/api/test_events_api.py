"""`GET /api/v1/instances/{uuid}/events`: the event notifications received for one instance,
newest first, keyset-paged, each with its verification outcome."""

from __future__ import annotations

import json
from datetime import timedelta

import requests
from django.utils import timezone

from instances.events.models import EventNotification
from instances.events.signatures import sign
from instances.models import ElementInstance
from tests.api.conftest import live, ok, refused

ACTIVE = ElementInstance.Status.ACTIVE
KEY = "api-test-signing-key-Q7w2"


def stored(instance, n: int, *, at, **fields) -> EventNotification:
    return EventNotification.objects.create(
        instance=instance,
        dedup_key=f"key-{n}",
        signature=fields.pop("signature", EventNotification.Signature.VERIFIED),
        event_type=fields.pop("event_type", "CREATED"),
        object_type="file",
        object_id=f"/Reports/{n}.pdf",
        events=[{"eventType": "CREATED", "objectId": f"/Reports/{n}.pdf"}],
        body="{}",
        received_at=at,
    )


@live
def test_events_newest_first_in_pages(alice, make_instance):
    instance = make_instance("Eventful", status=ACTIVE, remote_id=1011)
    other = make_instance("Other", status=ACTIVE, remote_id=2022)
    now = timezone.now()
    same = now - timedelta(minutes=5)
    rows = [stored(instance, n, at=now - timedelta(minutes=10 - n)) for n in range(3)]
    # Three received at the same moment: the id orders them, across page borders.
    rows += [stored(instance, n, at=same) for n in range(3, 6)]
    stored(other, 99, at=now)
    expected = [e.pk for e in sorted(rows, key=lambda e: (e.received_at, e.pk), reverse=True)]

    seen, cursor, pages = [], "", 0
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        body = ok(alice.get(f"/instances/{instance.uuid}/events", params=params))
        pages += 1
        assert len(body["items"]) == 2
        seen += [item["id"] for item in body["items"]]
        cursor = body["next_cursor"]
        if not cursor:
            break
        assert pages < 5

    assert pages == 3
    assert seen == expected
    first = ok(alice.get(f"/instances/{instance.uuid}/events"))["items"][0]
    newest = EventNotification.objects.get(pk=expected[0])
    assert first == {
        "id": newest.pk,
        "received_at": first["received_at"],
        "event_type": "CREATED",
        "object_type": "file",
        "object_id": newest.object_id,
        "signature": "verified",
        "events": newest.events,
        "forwarding": {},
    }


@live
def test_an_event_delivered_to_the_receiver_is_listed(alice, make_instance, sandbox_site):
    instance = make_instance("Receiving", status=ACTIVE, remote_id=1011)
    instance.webhook.signature_key = KEY
    instance.webhook.save()
    event = {
        "elementKey": "dropbox",
        "eventType": "UPDATED",
        "hubKey": "documents",
        "objectType": "file",
        "objectId": "/Plans/2027.xlsx",
    }
    body = json.dumps(
        {"message": {"eventId": "evt-api-1", "instanceId": 1011, "events": [event]}}
    ).encode()
    delivered = requests.post(
        f"{sandbox_site.url}/webhooks/{instance.uuid}/",
        data=body,
        headers={
            "Content-Type": "application/json",
            "Elements-Webhook-Signature": sign(KEY, body),
        },
        timeout=10,
    )
    assert delivered.status_code == 200, delivered.text

    [item] = ok(alice.get(f"/instances/{instance.uuid}/events"))["items"]
    assert (item["event_type"], item["object_id"], item["signature"]) == (
        "UPDATED",
        "/Plans/2027.xlsx",
        "verified",
    )
    # The events it carried, as Cloud Elements normalises them (what the receiver stores).
    assert item["events"] == [
        {"eventType": "UPDATED", "objectType": "file", "objectId": "/Plans/2027.xlsx"}
    ]


@live
def test_event_paging_refusals(alice, make_instance):
    instance = make_instance("Paged", status=ACTIVE, remote_id=1011)
    for query, field in [("limit=0", "limit"), ("limit=201", "limit"), ("cursor=x_y", "cursor")]:
        body = refused(alice.get(f"/instances/{instance.uuid}/events?{query}"), 400)
        assert list(body["errors"]) == [field]
    unknown = "/instances/8d3c5a52-2f0e-4c61-9d1e-3b5d7c1f0a99/events"
    assert "No instance" in refused(alice.get(unknown), 404)["detail"]
