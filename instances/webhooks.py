"""The receiver of Cloud Elements' event notifications: the only CSRF-exempt view.

The signature takes the place of the CSRF token. Nothing on this path talks to the network:
verify, store once, answer.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from . import ingest
from .models import ElementInstance, EventNotification
from .signatures import SIGNATURE_HEADER, matching_key

logger = logging.getLogger(__name__)
security_log = logging.getLogger("instances.security")

WEBHOOK_ID_HEADER = "Elements-Webhook-Id"


class MalformedNotification(ValueError):
    """A body that is neither documented notification shape."""


@dataclass(frozen=True)
class Notification:
    events: list[dict[str, str]]
    event_id: str
    notification_id: str


def _text(value: Any, limit: int = 500) -> str:
    """A storable string: lone surrogates and NUL (which PostgreSQL refuses) are replaced."""
    if value is None:
        return ""
    text = str(value)[:limit].encode("utf-8", "replace").decode("utf-8")
    return text.replace("\x00", "\ufffd")


def parse(body: bytes) -> Notification:
    """Read either documented shape: `{"message": {..., "events"}}` or the legacy one."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise MalformedNotification("The body is not JSON.") from None
    if not isinstance(data, dict):
        raise MalformedNotification("The body is not a JSON object.")
    if isinstance(data.get("message"), dict):
        message = data["message"]
        raw_events, event_id = message.get("events"), message.get("eventId")
        notification_id = message.get("notificationId")
    elif isinstance(data.get("response"), dict):
        raw_events, event_id = data["response"].get("events"), None
        notification_id = data.get("notificationId")
    else:
        raise MalformedNotification("Neither a `message` nor a legacy `response` object.")
    if not isinstance(raw_events, list) or not all(isinstance(e, dict) for e in raw_events):
        raise MalformedNotification("`events` is not a list of objects.")
    return Notification(
        events=[_normalize(event) for event in raw_events],
        event_id=_text(event_id, 150),
        notification_id=_text(notification_id, 150),
    )


def _normalize(event: dict[str, Any]) -> dict[str, str]:
    # Cloud Elements normalises eventType, objectType and objectId; the legacy shape carries
    # the provider's own path and metadata instead.
    metadata = event.get("metadata") if isinstance(event.get("metadata"), dict) else {}
    return {
        "eventType": _text(event.get("eventType") or "UNKNOWN", 32),
        "objectType": _text(event.get("objectType") or metadata.get("type"), 100),
        "objectId": _text(event.get("objectId") or event.get("path") or metadata.get("path")),
    }


def dedup_key(notification: Notification, webhook_id: str, body: bytes) -> str:
    """message.eventId, else Elements-Webhook-Id, else notificationId, else the body's hash."""
    if notification.event_id:
        return f"event:{notification.event_id}"
    if webhook_id:
        return f"webhook:{webhook_id[:150]}"
    if notification.notification_id:
        return f"notification:{notification.notification_id}"
    return "sha256:" + hashlib.sha256(body).hexdigest()


def _read_body(request: HttpRequest, limit: int) -> bytes | None:
    """Return the body, or None when it is larger than `limit` (read no more than limit + 1)."""
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > limit:
        return None
    body = request.read(limit + 1)
    return None if len(body) > limit else body


@csrf_exempt
@require_POST
def receive(request: HttpRequest, uuid) -> HttpResponse:
    body = _read_body(request, settings.WEBHOOK_MAX_BODY_BYTES)
    if body is None:
        return JsonResponse({"error": "The body is larger than allowed."}, status=413)
    try:
        instance = find_instance(uuid)
    except DatabaseError:
        return JsonResponse({"error": "Try again later."}, status=503)
    if instance is None:
        return JsonResponse({"error": "No such instance."}, status=404)
    keys = instance.webhook.accepted_keys()
    signature = EventNotification.Signature.UNSIGNED
    if keys:
        position = matching_key(keys, body, request.headers.get(SIGNATURE_HEADER))
        if position is None:
            security_log.warning("webhook signature rejected for instance %s", instance.uuid)
            return JsonResponse({"error": "Invalid signature."}, status=401)
        signature = (
            EventNotification.Signature.VERIFIED
            if position == 0
            else EventNotification.Signature.VERIFIED_PREVIOUS_KEY
        )
    try:
        notification = parse(body)
    except MalformedNotification as error:
        return JsonResponse({"error": str(error)}, status=400)
    return _store(instance, notification, body, signature, request.headers)


def find_instance(uuid) -> ElementInstance | None:
    """The instance a delivery is addressed to, with only what the receiver reads.

    One query, the first of the two round trips a delivery may cost: no ORDER BY and none of
    the instance's encrypted columns (each would be decrypted).
    """
    return ingest.find_receiving_instance(uuid)


def _store(instance, notification: Notification, body: bytes, signature: str, headers):
    webhook_id = _text(headers.get(WEBHOOK_ID_HEADER), 200)
    first = notification.events[0] if notification.events else {}
    types = {event["eventType"] for event in notification.events}
    fields = {
        "dedup_key": dedup_key(notification, webhook_id, body),
        "remote_event_id": notification.event_id,
        "webhook_id": webhook_id,
        "signature": signature,
        "event_type": first.get("eventType", "") if len(types) <= 1 else "MIXED",
        "object_type": first.get("objectType", ""),
        "object_id": first.get("objectId", ""),
        "events": notification.events,
        "body": body.decode("utf-8", errors="replace"),
    }
    try:
        # The second round trip: the event and its day's count, in one statement.
        stored = ingest.store_delivery(instance_id=instance.pk, fields=fields)
    except DatabaseError:
        # Not stored: a non-2xx answer makes Cloud Elements retry.
        return JsonResponse({"error": "Try again later."}, status=503)
    if stored is None:
        # A redelivery of what we already have: acknowledge it so that retries stop.
        logger.info("webhook redelivery ignored for instance %s", instance.uuid)
    return JsonResponse({})
