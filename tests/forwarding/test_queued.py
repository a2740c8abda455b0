"""The receiver queues a narrow row per matching destination (`Queued`), and the forwarder makes
deliveries of them (`sender.promote`): batch by batch, none lost or made twice, and none for
an event purged or a destination deleted in between."""

from __future__ import annotations

import pytest

from instances.events.models import EventNotification
from instances.forwarding import sender, services
from instances.forwarding.models import Delivery, Queued
from tests.events.receiver_helpers import deliver, message_body

pytestmark = pytest.mark.django_db


def post(client, instance, event_id: str) -> EventNotification:
    """The real receiver, without the helpers' promotion."""
    response = deliver(client, instance, message_body(event_id, instance_id=instance.remote_id))
    assert response.status_code == 200, response.content
    return EventNotification.objects.get(instance=instance, remote_event_id=event_id)


def test_the_receiver_queues_and_the_forwarder_makes_the_deliveries(
    client, instance, make_destination
):
    app = make_destination("https://app.example/hooks", "App")
    audit = make_destination("https://audit.example/hooks", "Audit")
    events = [post(client, instance, f"q-{n}") for n in range(5)]

    queued = set(Queued.objects.values_list("event_id", "destination_id"))
    assert queued == {(e.pk, d.pk) for e in events for d in (app, audit)}
    assert not Delivery.objects.exists()
    # Counted as waiting already, before the forwarder looked.
    assert services.queue_length(app) == services.queue_length(audit) == 5

    assert sender.promote(batch=3) == 10

    assert not Queued.objects.exists()
    made = Delivery.objects.all()
    assert {(d.event_id, d.destination_id) for d in made} == queued
    received = {e.pk: e.received_at for e in events}
    for delivery in made:
        assert delivery.state == Delivery.State.PENDING and delivery.attempts == 0
        assert delivery.created_at == delivery.next_attempt_at == received[delivery.event_id]
    assert services.queue_length(app) == 5
    # Nothing left: a second look takes nothing and makes nothing twice.
    assert sender.promote() == 0
    assert Delivery.objects.count() == 10


def test_an_event_purged_or_a_destination_deleted_meanwhile_gets_no_delivery(
    client, instance, make_destination
):
    app = make_destination("https://app.example/hooks", "App")
    gone = make_destination("https://gone.example/hooks", "Gone")
    kept, purged = post(client, instance, "q-kept"), post(client, instance, "q-purged")
    services.delete(gone)
    EventNotification.objects.filter(pk=purged.pk).delete()

    assert sender.promote() == 4

    assert list(Delivery.objects.values_list("event_id", "destination_id")) == [(kept.pk, app.pk)]
    assert not Queued.objects.exists()


def test_a_resent_event_already_delivered_is_not_made_twice(client, instance, make_destination):
    app = make_destination("https://app.example/hooks", "App")
    event = post(client, instance, "q-twice")
    sender.promote()
    # The same pair queued again (as a redelivery racing a replay could): one delivery stays.
    Queued.objects.create(event=event, destination=app, queued_at=event.received_at)

    assert sender.promote() == 1

    assert Delivery.objects.filter(event=event, destination=app).count() == 1


# Committed for real: the foreign key is checked when the promotion's transaction commits.
@pytest.mark.django_db(transaction=True)
def test_an_event_purged_between_the_check_and_the_commit_leaves_the_rest_for_next_time(
    client, instance, make_destination, monkeypatch
):
    app = make_destination("https://app.example/hooks", "App")
    event = post(client, instance, "q-race")
    Queued.objects.create(event_id=event.pk + 1000, destination=app, queued_at=event.received_at)
    # The seam: the check saw the second event, which is gone by the commit.
    real = sender._still_there
    monkeypatch.setattr(sender, "_still_there", lambda rows: ({r[1] for r in rows}, real(rows)[1]))

    assert sender.promote() == 0

    assert not Delivery.objects.exists()
    assert Queued.objects.count() == 2
    monkeypatch.undo()
    assert sender.promote() == 2
    assert list(Delivery.objects.values_list("event_id", flat=True)) == [event.pk]
    assert not Queued.objects.exists()
