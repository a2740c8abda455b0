"""What a destination receives: the JSON body for an event and its Standard Webhooks headers.

The body is the same on every attempt (nothing in it depends on when it is sent), and the
`webhook-id` the same on every attempt, resend and replay of an event, to every destination:
the team's app de-duplicates on it. It is derived from the instance and the event's
de-duplication key, so it stays the same even for a redelivery Cloud Elements makes after the
event was purged here.
"""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import datetime
from typing import Any

from standardwebhooks.webhooks import Webhook

from instances.forwarding.models import Destination

EVENT_TYPE = "notification.received"
TEST_TYPE = "destination.test"
USER_AGENT = "cloud-elements-dashboard-forwarding/1"


def message_id(instance_uuid, dedup_key: str) -> str:
    digest = hashlib.sha256(f"{instance_uuid}:{dedup_key}".encode()).digest()
    return "msg_" + base64.b32encode(digest).decode().rstrip("=").lower()[:26]


def event_body(event, instance, tag_names: list[str]) -> bytes:
    """The JSON sent for one stored event (`event` with its instance)."""
    try:
        notification: Any = json.loads(event.body)
    except ValueError:
        notification = event.body
    payload = {
        "type": EVENT_TYPE,
        "timestamp": event.received_at.isoformat(),
        "data": {
            "event_id": event.pk,
            "received_at": event.received_at.isoformat(),
            "signature": event.signature,
            "instance": {
                "id": str(instance.uuid),
                "name": instance.name,
                "element": instance.element_key,
                "cloud_elements_id": instance.remote_id,
                "tags": sorted(tag_names),
            },
            "events": event.events,
            "notification": notification,
        },
    }
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


def test_body(destination: Destination, now: datetime) -> bytes:
    payload = {
        "type": TEST_TYPE,
        "timestamp": now.isoformat(),
        "data": {"destination": destination.name, "text": "A test from the dashboard."},
    }
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


def secrets_in_use(destination: Destination, now: datetime) -> list[str]:
    """The secret, and the previous one while it is still honoured after a rotation."""
    found = [destination.signing_secret]
    expires = destination.previous_secret_expires_at
    if destination.previous_signing_secret and expires and expires > now:
        found.append(destination.previous_signing_secret)
    return found


def headers(destination: Destination, msg_id: str, body: bytes, now: datetime) -> dict[str, str]:
    """Standard Webhooks headers: id, timestamp, and one `v1,` signature per secret in use."""
    signatures = " ".join(
        Webhook(secret).sign(msg_id, now, body) for secret in secrets_in_use(destination, now)
    )
    return {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": signatures,
    }
