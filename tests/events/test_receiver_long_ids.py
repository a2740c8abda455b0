"""No delivery is acknowledged and dropped because of a long id: two deliveries whose ids share
their first 150 characters are two events, however long the ids (a key keeps an id of up to
150 characters as it is, and the SHA-256 of a longer one), and a redelivery of a long id is
still stored once. Issue 26, item 4."""

from __future__ import annotations

import json

import pytest

from instances.events.models import EventNotification
from tests.events.receiver_helpers import deliver, message_body, post, url_for

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("length", [151, 10_000])
def test_event_ids_alike_in_their_first_150_characters_are_two_events(client, instance, length):
    common = "e" * 150
    first_id, second_id = common + "1" * (length - 150), common + "2" * (length - 150)

    answers = [deliver(client, instance, message_body(i)) for i in (first_id, second_id)]

    assert [a.status_code for a in answers] == [200, 200]
    assert EventNotification.objects.filter(instance=instance).count() == 2


@pytest.mark.parametrize("length", [151, 10_000])
def test_a_long_event_id_delivered_again_is_stored_once(client, instance, length):
    body = message_body("r" * length)

    answers = [deliver(client, instance, body) for _ in range(2)]

    assert [a.status_code for a in answers] == [200, 200]
    stored = EventNotification.objects.get(instance=instance)
    assert stored.remote_event_id == ("r" * length)[:200]
    assert len(stored.dedup_key) <= 200


def test_an_id_of_150_characters_keeps_the_key_it_always_had(client, instance):
    # Keys already stored must still match their redeliveries after an upgrade.
    deliver(client, instance, message_body("k" * 150))

    assert EventNotification.objects.get().dedup_key == "event:" + "k" * 150


def test_notification_ids_alike_in_their_first_150_characters_are_two_events(client, instance):
    bodies = [
        json.dumps({"message": {"notificationId": "n" * 150 + tail, "events": []}}).encode()
        for tail in ("1", "2")
    ]

    answers = [deliver(client, instance, body) for body in bodies]

    assert [a.status_code for a in answers] == [200, 200]
    assert EventNotification.objects.filter(instance=instance).count() == 2


def test_webhook_ids_alike_in_their_first_150_characters_are_two_events(client, unsigned_instance):
    # Only an instance without a key tells deliveries apart by Elements-Webhook-Id.
    url = url_for(unsigned_instance)
    answers = [
        post(client, url, message_body(None, instance_id=2022), webhook_id="w" * 150 + tail)
        for tail in ("1", "2")
    ]

    assert [a.status_code for a in answers] == [200, 200]
    assert EventNotification.objects.filter(instance=unsigned_instance).count() == 2
