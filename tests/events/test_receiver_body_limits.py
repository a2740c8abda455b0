"""A body over WEBHOOK_MAX_BODY_BYTES is refused with 413, and nothing is stored.

The limit holds for the body read and for a declared Content-Length (refused without reading),
at signed and unsigned instances alike; a body of exactly the limit is accepted. Chunked bodies
without a Content-Length are in test_webhook_bodies.py.
"""

from __future__ import annotations

import pytest

from instances.events.models import EventNotification
from instances.events.signatures import sign
from tests.events.receiver_helpers import KEY, deliver, message_body, post, url_for

pytestmark = pytest.mark.django_db


# --- Body size -----------------------------------------------------------------------------------


def padded_body(size: int) -> bytes:
    """A valid message body of exactly `size` bytes."""
    body = message_body(f"evt-size-{size}", padding="")
    body = message_body(f"evt-size-{size}", padding="x" * (size - len(body)))
    assert len(body) == size
    return body


def test_a_body_over_the_limit_is_refused_with_413(client, instance, settings):
    settings.WEBHOOK_MAX_BODY_BYTES = 1000

    response = deliver(client, instance, padded_body(1001))

    assert response.status_code == 413
    assert not EventNotification.objects.exists()


def test_a_body_at_the_limit_is_accepted(client, instance, settings):
    settings.WEBHOOK_MAX_BODY_BYTES = 1000

    response = deliver(client, instance, padded_body(1000))

    assert response.status_code == 200
    assert EventNotification.objects.count() == 1


def test_a_declared_length_over_the_limit_is_refused_without_reading(client, instance, settings):
    settings.WEBHOOK_MAX_BODY_BYTES = 1000
    body = message_body("evt-declared")

    response = client.post(
        url_for(instance),
        data=body,
        content_type="application/json",
        CONTENT_LENGTH="5000000",
        HTTP_ELEMENTS_WEBHOOK_SIGNATURE=sign(KEY, body),
    )

    assert response.status_code == 413
    assert not EventNotification.objects.exists()


def test_an_unsigned_instance_also_enforces_the_limit(client, unsigned_instance, settings):
    settings.WEBHOOK_MAX_BODY_BYTES = 1000

    response = post(client, url_for(unsigned_instance), padded_body(1500))

    assert response.status_code == 413
    assert not EventNotification.objects.exists()
