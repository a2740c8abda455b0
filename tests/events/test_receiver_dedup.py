"""A notification delivered again is acknowledged and stored once per instance (W6).

The de-duplication key is, in order: the signed `message.eventId`, the signed `notificationId`,
and the SHA-256 of the body. `Elements-Webhook-Id` is outside the signature, so it tells retries
apart only for an instance without a key. The legacy top-level `eventId` is not read. Concurrent
retries are in test_webhook_concurrency.py.
"""

from __future__ import annotations

import hashlib
import json

import pytest

from instances.events.models import EventNotification
from tests.events.receiver_helpers import (
    ACTIVE,
    KEY,
    LEGACY,
    deliver,
    message_body,
    post,
    url_for,
    with_key,
)

pytestmark = pytest.mark.django_db


# --- De-duplication (W6) -------------------------------------------------------------------------


def test_a_redelivery_is_acknowledged_and_stored_once(client, instance):
    body = message_body("evt-retried")

    first = deliver(client, instance, body, webhook_id="wh-1")
    again = deliver(client, instance, body, webhook_id="wh-2")

    assert (first.status_code, again.status_code) == (200, 200)
    assert again.json() == {}
    stored = EventNotification.objects.get()
    assert stored.dedup_key == "event:evt-retried"
    assert stored.webhook_id == "wh-1"


def test_the_same_event_id_at_two_instances_is_stored_for_each(client, instance, make_instance):
    other = with_key(make_instance("Other Dropbox", status=ACTIVE, remote_id=3033), KEY)

    assert deliver(client, instance, message_body("evt-shared")).status_code == 200
    assert deliver(client, other, message_body("evt-shared", instance_id=3033)).status_code == 200

    assert EventNotification.objects.filter(instance=instance).count() == 1
    assert EventNotification.objects.filter(instance=other).count() == 1


def test_the_event_id_is_the_dedup_key_even_with_other_ids(client, instance):
    body = message_body("evt-first-choice", notificationId="n-1")

    deliver(client, instance, body, webhook_id="wh-ignored")

    assert EventNotification.objects.get().dedup_key == "event:evt-first-choice"


def test_a_signed_delivery_never_deduplicates_on_the_unsigned_webhook_id(client, instance):
    # Elements-Webhook-Id is outside the signature: a captured body replayed with five header
    # values must still be one row, and two different bodies sharing a header value two rows.
    body = message_body(None)
    other = message_body(None, accountId=124)

    answers = [deliver(client, instance, body, webhook_id=f"wh-{n}").status_code for n in range(5)]
    answers.append(deliver(client, instance, other, webhook_id="wh-0").status_code)

    assert answers == [200] * 6
    assert set(EventNotification.objects.values_list("dedup_key", flat=True)) == {
        "sha256:" + hashlib.sha256(body).hexdigest(),
        "sha256:" + hashlib.sha256(other).hexdigest(),
    }


def test_a_signed_delivery_prefers_the_signed_notification_id_to_the_webhook_id(client, instance):
    first = message_body(None, notificationId="n-8")
    second = message_body(None, notificationId="n-8", accountId=124)

    deliver(client, instance, first, webhook_id="wh-delivery-9")
    deliver(client, instance, second, webhook_id="wh-delivery-10")

    assert EventNotification.objects.get().dedup_key == "notification:n-8"


def test_an_unsigned_delivery_without_an_event_id_deduplicates_on_the_webhook_id(
    client, unsigned_instance
):
    # Nothing of an unsigned delivery is authenticated; the header may tell retries apart.
    first = message_body(None, instance_id=2022, notificationId="n-ignored")
    # A retry that re-serialised the body differently still carries the same webhook id.
    second = message_body(None, instance_id=2022, notificationId="n-ignored", accountId=124)

    post(client, url_for(unsigned_instance), first, webhook_id="wh-delivery-9")
    post(client, url_for(unsigned_instance), second, webhook_id="wh-delivery-9")

    stored = EventNotification.objects.get()
    assert stored.dedup_key == "webhook:wh-delivery-9"
    assert stored.remote_event_id == ""


def test_without_event_or_webhook_id_it_deduplicates_on_the_notification_id(client, instance):
    first = message_body(None, notificationId="n-55")
    second = message_body(None, notificationId="n-55", accountId=124)

    assert deliver(client, instance, first).status_code == 200
    assert deliver(client, instance, second).status_code == 200

    assert EventNotification.objects.get().dedup_key == "notification:n-55"


def test_without_any_id_it_deduplicates_on_the_body_hash(client, instance):
    body = message_body(None)
    different = message_body(None, accountId=124)

    deliver(client, instance, body)
    deliver(client, instance, body)
    deliver(client, instance, different)

    keys = set(EventNotification.objects.values_list("dedup_key", flat=True))
    assert keys == {
        "sha256:" + hashlib.sha256(body).hexdigest(),
        "sha256:" + hashlib.sha256(different).hexdigest(),
    }


def test_the_legacy_event_id_is_not_the_dedup_key(client, instance):
    # Documented design (DESIGN.md): only message.eventId is read; the reference also suggests
    # the legacy top-level eventId. Pinned here so a change is deliberate.
    body = json.dumps({"eventId": 1088, **LEGACY}).encode()

    deliver(client, instance, body)

    stored = EventNotification.objects.get()
    assert stored.dedup_key == "notification:1047"
    assert stored.remote_event_id == ""
