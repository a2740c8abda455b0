"""The receiver's read of an instance, kept per worker (PostgreSQL), never outlives the truth.

After a first delivery, the next ones to the same instance cost one round trip on PostgreSQL.
Whatever changes in between — the instance deleted, its key replaced or rotated, its Cloud
Elements id learnt — the answer is the one a fresh read would give. The same tests run on
SQLite, where nothing is kept, as a check of those answers.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from instances.events import ingest
from instances.events.models import EventNotification
from instances.models import ElementInstance
from tests.events.receiver_helpers import KEY, deliver, message_body, rotate, with_key
from tests.roundtrips import counting_round_trips

ACTIVE = ElementInstance.Status.ACTIVE
POSTGRESQL = connection.vendor == "postgresql"


@pytest.fixture(autouse=True)
def empty_cache():
    ingest.forget_receivers()
    yield
    ingest.forget_receivers()


@pytest.fixture
def instance(make_instance) -> ElementInstance:
    return with_key(make_instance("Cached Dropbox", status=ACTIVE, remote_id=1011), KEY)


def stored_ids() -> list[str]:
    return sorted(EventNotification.objects.values_list("remote_event_id", flat=True))


@pytest.mark.django_db(transaction=True)
def test_the_next_deliveries_to_an_instance_cost_one_round_trip_on_postgresql(client, instance):
    trips = []
    for event_id in ["one", "two", "two", "three"]:  # new, new, redelivery, new
        with counting_round_trips() as counted:
            assert deliver(client, instance, message_body(event_id)).status_code == 200
        trips.append(counted.total)

    if POSTGRESQL:
        assert trips == [2, 1, 1, 1]
    else:  # nothing is kept: every new delivery reads the instance again
        assert trips[0] == trips[1] == trips[3]
        assert not ingest._cache
    assert stored_ids() == ["one", "three", "two"]


@pytest.mark.django_db(transaction=True)
def test_with_the_cache_off_every_delivery_reads_the_instance(client, instance, settings):
    settings.WEBHOOK_RECEIVER_CACHE_SECONDS = 0
    trips = []
    for event_id in ["one", "two"]:
        with counting_round_trips() as counted:
            assert deliver(client, instance, message_body(event_id)).status_code == 200
        trips.append(counted.total)

    if POSTGRESQL:
        assert trips == [2, 2]
    assert stored_ids() == ["one", "two"]


def test_a_deleted_instance_is_refused_at_once(client, instance):
    assert deliver(client, instance, message_body("before")).status_code == 200
    ElementInstance.objects.filter(pk=instance.pk).update(status=ElementInstance.Status.DELETED)

    response = deliver(client, instance, message_body("after"))

    assert response.status_code == 404
    assert stored_ids() == ["before"]


def test_a_replaced_key_is_refused_at_once(client, instance):
    assert deliver(client, instance, message_body("before")).status_code == 200
    webhook = instance.webhook
    webhook.signature_key, webhook.previous_signature_key = "a-brand-new-key-Qx1", ""
    webhook.previous_signature_key_expires_at = None
    webhook.save()

    old = deliver(client, instance, message_body("old-key"), key=KEY)
    new = deliver(client, instance, message_body("new-key"), key="a-brand-new-key-Qx1")

    assert (old.status_code, new.status_code) == (401, 200)
    assert stored_ids() == ["before", "new-key"]


def test_a_rotated_key_is_accepted_at_once_and_the_old_one_recorded_as_previous(client, instance):
    assert deliver(client, instance, message_body("before")).status_code == 200
    rotate(instance, "the-rotated-key-Wm4")

    new = deliver(client, instance, message_body("new-key"), key="the-rotated-key-Wm4")
    old = deliver(client, instance, message_body("old-key"), key=KEY)

    assert (new.status_code, old.status_code) == (200, 200)
    signatures = dict(EventNotification.objects.values_list("remote_event_id", "signature"))
    assert signatures["new-key"] == EventNotification.Signature.VERIFIED
    assert signatures["old-key"] == EventNotification.Signature.VERIFIED_PREVIOUS_KEY


def test_an_expired_previous_key_is_refused_at_once(client, instance):
    rotate(instance, "the-rotated-key-Wm4")
    assert deliver(client, instance, message_body("before"), key=KEY).status_code == 200
    instance.webhook.__class__.objects.filter(pk=instance.webhook.pk).update(
        previous_signature_key_expires_at=timezone.now() - timedelta(seconds=1)
    )

    response = deliver(client, instance, message_body("after"), key=KEY)

    assert response.status_code == 401
    assert stored_ids() == ["before"]


def test_a_cloud_elements_id_learnt_later_refuses_another_instances_notification(
    client, make_instance
):
    pending = with_key(make_instance("Pending Dropbox", status=ACTIVE, remote_id=None), KEY)
    assert deliver(client, pending, message_body("before", instance_id=777)).status_code == 200
    ElementInstance.objects.filter(pk=pending.pk).update(remote_id=3034)

    other = deliver(client, pending, message_body("other", instance_id=777))
    own = deliver(client, pending, message_body("own", instance_id=3034))

    assert (other.status_code, own.status_code) == (400, 200)
    assert stored_ids() == ["before", "own"]


def test_a_worker_keeps_a_bounded_number_of_instances(client, make_instance, monkeypatch):
    monkeypatch.setattr(ingest, "CACHE_SIZE", 2)
    instances = [
        with_key(make_instance(f"Bounded {n}", status=ACTIVE, remote_id=4000 + n), KEY)
        for n in range(3)
    ]
    for n, each in enumerate(instances):
        assert (
            deliver(client, each, message_body(f"bounded-{n}", instance_id=4000 + n)).status_code
            == 200
        )

    kept = list(ingest._cache)
    assert kept == ([str(i.uuid) for i in instances[1:]] if POSTGRESQL else [])


def test_a_deleted_instance_leaves_no_keys_in_the_cache(client, instance):
    assert deliver(client, instance, message_body("before")).status_code == 200
    ElementInstance.objects.filter(pk=instance.pk).update(status=ElementInstance.Status.DELETED)

    assert deliver(client, instance, message_body("after")).status_code == 404
    assert str(instance.uuid) not in ingest._cache
