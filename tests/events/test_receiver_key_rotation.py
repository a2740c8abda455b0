"""After a signature key change, the previous key is still accepted for 72 hours, and no longer.

Replacing an instance's key (W5) keeps the old one as `previous_signature_key` until
`previous_signature_key_expires_at`: deliveries signed with it are stored as "verified (previous
key)", those signed with the new key as verified. A second change drops the first key; setting
the same key again keeps no previous key.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from instances.events.models import EventNotification
from tests.events.receiver_helpers import (
    KEY,
    VERIFIED,
    VERIFIED_PREVIOUS,
    deliver,
    message_body,
    rotate,
)

pytestmark = pytest.mark.django_db


# --- Key rotation (W5) ---------------------------------------------------------------------------


def test_after_a_key_change_the_old_key_is_accepted_and_recorded_as_previous(client, instance):
    rotate(instance, "the-new-key-Vb8")

    response = deliver(client, instance, message_body("evt-old-key"), key=KEY)

    assert response.status_code == 200
    assert EventNotification.objects.get().signature == VERIFIED_PREVIOUS


def test_after_a_key_change_the_new_key_is_verified(client, instance):
    rotate(instance, "the-new-key-Vb8")

    response = deliver(client, instance, message_body("evt-new-key"), key="the-new-key-Vb8")

    assert response.status_code == 200
    assert EventNotification.objects.get().signature == VERIFIED


def test_the_old_key_is_refused_once_its_overlap_has_ended(client, instance):
    rotated = rotate(instance, "the-new-key-Vb8")
    rotated.webhook.previous_signature_key_expires_at = timezone.now() - timedelta(seconds=1)
    rotated.webhook.save()

    old = deliver(client, instance, message_body("evt-old-key"), key=KEY)
    new = deliver(client, instance, message_body("evt-new-key"), key="the-new-key-Vb8")

    assert old.status_code == 401
    assert new.status_code == 200
    assert list(EventNotification.objects.values_list("remote_event_id", "signature")) == [
        ("evt-new-key", VERIFIED)
    ]


def test_the_old_key_is_accepted_for_72_hours_and_no_longer(client, instance, monkeypatch):
    rotated = rotate(instance, "the-new-key-Vb8")
    overlap = rotated.webhook.previous_signature_key_expires_at - timezone.now()
    assert abs(overlap - timedelta(hours=72)) < timedelta(minutes=1)
    real_now = timezone.now

    monkeypatch.setattr(timezone, "now", lambda: real_now() + timedelta(hours=71, minutes=50))
    within = deliver(client, instance, message_body("evt-71h"), key=KEY)
    monkeypatch.setattr(timezone, "now", lambda: real_now() + timedelta(hours=72, minutes=10))
    after = deliver(client, instance, message_body("evt-73h"), key=KEY)

    assert within.status_code == 200
    assert after.status_code == 401
    assert list(EventNotification.objects.values_list("remote_event_id", flat=True)) == ["evt-71h"]


def test_a_second_key_change_drops_the_first_key(client, instance):
    rotate(instance, "second-key-Ab1")
    rotate(instance, "third-key-Cd2")

    first = deliver(client, instance, message_body("evt-first"), key=KEY)
    second = deliver(client, instance, message_body("evt-second"), key="second-key-Ab1")
    third = deliver(client, instance, message_body("evt-third"), key="third-key-Cd2")

    assert (first.status_code, second.status_code, third.status_code) == (401, 200, 200)
    assert dict(EventNotification.objects.values_list("remote_event_id", "signature")) == {
        "evt-second": VERIFIED_PREVIOUS,
        "evt-third": VERIFIED,
    }


def test_setting_the_same_key_again_keeps_no_previous_key(instance):
    rotated = rotate(instance, KEY)

    assert rotated.webhook.previous_signature_key == ""
    assert rotated.webhook.accepted_keys() == [KEY]
