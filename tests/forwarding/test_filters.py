"""Which destinations an event is queued for: filters by element, tag (case-insensitive),
instance and event type, all of them together. A table of cases is checked through the real
receiver (on PostgreSQL the SQL of `outbox.POSTGRESQL_CTE` in the receiver's one statement;
elsewhere `outbox.queue_event`) and through `outbox.matches`, which must agree, for every
destination and event. A deleted destination gets nothing; a redelivery by Cloud Elements is
not forwarded twice."""

from __future__ import annotations

import pytest
from django.utils import timezone

from instances.events.models import EventNotification
from instances.forwarding import outbox, sender, services
from instances.forwarding.models import Delivery
from instances.models import ElementInstance
from tests.events.receiver_helpers import KEY, deliver, event, message_body, with_key
from tests.forwarding.helpers import receive

pytestmark = pytest.mark.django_db
ACTIVE = ElementInstance.Status.ACTIVE
UNTYPED = {"objectType": "file", "objectId": "/untyped.txt"}

# Destination name → its filters ("instances" by instance name).
DESTINATIONS = {
    "everything": {},
    "dropbox": {"element_keys": ["dropbox"]},
    "box or drive": {"element_keys": ["box", "googledrive"]},
    "finance": {"tags": ["finance"]},
    "eu or hr": {"tags": ["eu", "hr"]},
    "marketing": {"tags": ["marketing"]},
    "équipe": {"tags": ["équipe"]},
    "deleted only": {"event_types": ["DELETED"]},
    "created or updated": {"event_types": ["CREATED", "UPDATED"]},
    "unknown only": {"event_types": ["UNKNOWN"]},
    "hr box": {"instances": ["HR Box"]},
    "finance dropbox, created": {
        "element_keys": ["dropbox"],
        "tags": ["finance"],
        "event_types": ["CREATED"],
    },
    "dropbox or drive instances, updated": {
        "instances": ["Finance Dropbox", "Drive"],
        "event_types": ["UPDATED"],
    },
    "drive tagged hr": {"element_keys": ["googledrive"], "tags": ["hr"]},
}
# The events each instance sends (their types; None: an event without a type, UNKNOWN).
EVENTS = [("CREATED",), ("UPDATED",), ("CREATED", "DELETED"), (None,)]
# (destination, instance, event types, queued?)
CASES = [
    ("everything", "Drive", (None,), True),
    ("dropbox", "Finance Dropbox", ("UPDATED",), True),
    ("dropbox", "HR Box", ("UPDATED",), False),
    ("box or drive", "Drive", ("CREATED",), True),
    ("box or drive", "Finance Dropbox", ("CREATED",), False),
    # Tags compare without case: the instances are tagged "Finance", "EU", "HR" and
    # "ÉQUIPE".
    ("finance", "Finance Dropbox", ("CREATED",), True),
    ("finance", "HR Box", ("CREATED",), False),
    ("eu or hr", "Finance Dropbox", ("UPDATED",), True),
    ("eu or hr", "HR Box", ("UPDATED",), True),
    ("eu or hr", "Drive", ("UPDATED",), False),
    ("marketing", "Finance Dropbox", ("CREATED",), False),
    # Beyond ASCII too: Python's lower() and the database's must agree.
    ("équipe", "Drive", ("CREATED",), True),
    ("équipe", "HR Box", ("CREATED",), False),
    ("deleted only", "HR Box", ("CREATED", "DELETED"), True),
    ("deleted only", "HR Box", ("CREATED",), False),
    ("created or updated", "Drive", ("CREATED", "DELETED"), True),
    ("created or updated", "Drive", (None,), False),
    ("unknown only", "Drive", (None,), True),
    ("unknown only", "Drive", ("UPDATED",), False),
    ("hr box", "HR Box", (None,), True),
    ("hr box", "Finance Dropbox", ("CREATED",), False),
    ("finance dropbox, created", "Finance Dropbox", ("CREATED",), True),
    ("finance dropbox, created", "Finance Dropbox", ("CREATED", "DELETED"), True),
    ("finance dropbox, created", "Finance Dropbox", ("UPDATED",), False),
    ("finance dropbox, created", "HR Box", ("CREATED",), False),
    ("dropbox or drive instances, updated", "Drive", ("UPDATED",), True),
    ("dropbox or drive instances, updated", "Finance Dropbox", ("UPDATED",), True),
    ("dropbox or drive instances, updated", "Finance Dropbox", ("CREATED",), False),
    ("dropbox or drive instances, updated", "HR Box", ("UPDATED",), False),
    ("drive tagged hr", "Drive", ("CREATED",), False),
    ("drive tagged hr", "HR Box", ("CREATED",), False),
]


@pytest.fixture
def fleet(instance, make_instance) -> dict[str, ElementInstance]:
    box = make_instance("HR Box", status=ACTIVE, remote_id=2022, element_key="box", tags=["HR"])
    drive = make_instance(
        "Drive", status=ACTIVE, remote_id=3033, element_key="googledrive", tags=["ÉQUIPE"]
    )
    return {i.name: with_key(i, KEY) for i in (instance, box, drive)}


def test_the_receiver_and_matches_agree_on_every_case(client, fleet, make_destination):
    destinations = {
        name: make_destination(
            f"http://127.0.0.1:9/{n}",
            name,
            instances=[fleet[i] for i in filters.get("instances", [])],
            **{k: v for k, v in filters.items() if k != "instances"},
        )
        for n, (name, filters) in enumerate(DESTINATIONS.items())
    }
    received: dict[tuple[str, tuple], EventNotification] = {}
    for instance in fleet.values():
        for types in EVENTS:
            events = [event(t, f"/{t}.pdf") if t else UNTYPED for t in types]
            received[instance.name, types], _ = receive(client, instance, events=events)
    queued = set(Delivery.objects.values_list("destination_id", "event_id"))

    def by_receiver(destination, stored) -> bool:
        return (destination.pk, stored.pk) in queued

    def by_matches(destination, instance, stored) -> bool:
        chosen = set(destination.instances.values_list("pk", flat=True))
        return outbox.matches(
            destination,
            element_key=instance.element_key,
            tag_names=list(instance.tags.values_list("name", flat=True)),
            instance_id=instance.pk,
            instance_ids=chosen or None,
            event_types=sorted({item["eventType"] for item in stored.events}),
        )

    for name, instance_name, types, expected in CASES:
        destination, stored = destinations[name], received[instance_name, types]
        assert by_receiver(destination, stored) == expected, (name, instance_name, types)
        assert by_matches(destination, fleet[instance_name], stored) == expected, (
            name,
            instance_name,
            types,
        )
    disagreements = [
        (name, instance_name, types)
        for name, destination in destinations.items()
        for (instance_name, types), stored in received.items()
        if by_receiver(destination, stored) != by_matches(destination, fleet[instance_name], stored)
    ]
    assert disagreements == []
    # Every event reached "everything"; nothing reached the filters no instance meets.
    assert destinations["everything"].deliveries.count() == len(received) == 12
    assert not destinations["marketing"].deliveries.exists()
    assert not destinations["drive tagged hr"].deliveries.exists()


def test_a_deleted_destination_gets_nothing(client, instance, listener, make_destination):
    kept = make_destination(listener.url("/kept"), "Kept")
    deleted = make_destination(listener.url("/deleted"), "Deleted")
    queued_before, _ = receive(client, instance)  # queued for both while both were live
    assert deleted.deliveries.count() == 1

    services.delete(deleted)
    receive(client, instance)
    sender.forward_due(now=timezone.now(), concurrency=1)

    assert len(listener.to("/kept")) == 2
    assert listener.to("/deleted") == []
    # The one queued before stays as history, unsent; none was queued since.
    [history] = deleted.deliveries.all()
    assert (history.event, history.state, history.attempts) == (queued_before, "pending", 0)
    assert kept.deliveries.filter(state="delivered").count() == 2


def test_a_redelivery_by_cloud_elements_is_not_forwarded_twice(
    client, instance, listener, make_destination
):
    destination = make_destination(listener.url())
    body = message_body("evt-once", instance_id=instance.remote_id)
    assert deliver(client, instance, body).status_code == 200
    assert deliver(client, instance, body).status_code == 200  # before it was forwarded
    sender.forward_due(now=timezone.now(), concurrency=1)
    assert deliver(client, instance, body).status_code == 200  # after
    sender.forward_due(now=timezone.now(), concurrency=1)

    assert EventNotification.objects.count() == 1
    assert destination.deliveries.count() == 1
    assert len(listener.received) == 1
