"""The receiver of Cloud Elements' event notifications: the only CSRF-exempt view.

The signature takes the place of the CSRF token. Nothing on this path talks to the network:
verify, store once, answer.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
from dataclasses import dataclass
from typing import Any

from csp.decorators import csp_exempt
from django.conf import settings
from django.core.handlers.wsgi import LimitedStream
from django.db import DatabaseError, DataError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from instances.events import ingest
from instances.events.models import EventNotification
from instances.events.signatures import SIGNATURE_HEADER, matching_key

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
    # Every instance id the body names (message.instanceId and .instance_id, or the legacy
    # top-level instanceId), as sent.
    instance_ids: tuple[Any, ...] = ()

    def names_another_instance(self, remote_id: int | None) -> bool:
        """True when the body names an instance other than `remote_id`.

        An instance whose Cloud Elements id is not known yet (an unanswered create) cannot be
        compared, and a body that names no instance is not refused: the field is not documented
        as always present.
        """
        if remote_id is None:
            return False
        return any(not _same_id(value, remote_id) for value in self.instance_ids)


def _same_id(value: Any, remote_id: int) -> bool:
    # Cloud Elements sends numbers; a string of digits is read the same way.
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return value == remote_id
    if isinstance(value, float):
        return value.is_integer() and int(value) == remote_id
    if isinstance(value, str) and value.strip().isdecimal():
        return int(value.strip()) == remote_id
    return False


def _text(value: Any, limit: int | None = 500) -> str:
    """A storable string: lone surrogates and NUL (which PostgreSQL refuses) are replaced."""
    if value is None:
        return ""
    text = str(value)[:limit].encode("utf-8", "replace").decode("utf-8")
    return text.replace("\x00", "\ufffd")


def parse(body: bytes) -> Notification:
    """Read either documented shape: `{"message": {..., "events"}}` or the legacy one."""
    # Only UTF-8: json.loads would also accept UTF-16 and UTF-32 bytes, whose stored text then
    # holds NUL characters that PostgreSQL refuses, a failure no retry could ever fix.
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise MalformedNotification("The body is not UTF-8 encoded JSON.") from None
    if "\x00" in text:
        raise MalformedNotification(
            "The body holds NUL characters (UTF-16 or UTF-32?); send UTF-8 encoded JSON."
        )
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        raise MalformedNotification("The body is not JSON.") from None
    if not isinstance(data, dict):
        raise MalformedNotification("The body is not a JSON object.")
    if isinstance(data.get("message"), dict):
        message = data["message"]
        raw_events, event_id = message.get("events"), message.get("eventId")
        notification_id = message.get("notificationId")
        named = [message.get("instanceId"), message.get("instance_id")]
    elif isinstance(data.get("response"), dict):
        raw_events, event_id = data["response"].get("events"), None
        notification_id = data.get("notificationId")
        named = [data.get("instanceId")]
    else:
        raise MalformedNotification("Neither a `message` nor a legacy `response` object.")
    if not isinstance(raw_events, list) or not all(isinstance(e, dict) for e in raw_events):
        raise MalformedNotification("`events` is not a list of objects.")
    return Notification(
        events=[_normalize(event) for event in raw_events],
        # Whole: ids cut short could make two events one (see `dedup_key`).
        event_id=_text(event_id, None),
        notification_id=_text(notification_id, None),
        instance_ids=tuple(value for value in named if value is not None),
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


def dedup_key(notification: Notification, webhook_id: str, body: bytes, *, signed: bool) -> str:
    """message.eventId, else notificationId, else the body's hash.

    Elements-Webhook-Id is outside the signature: on a signed delivery, a captured body
    replayed with new header values would store a row per value. Only an unsigned instance,
    where nothing is authenticated anyway, still uses it (after message.eventId).
    """
    if notification.event_id:
        return ingest.id_key("event", notification.event_id)
    if webhook_id and not signed:
        return ingest.id_key("webhook", webhook_id)
    if notification.notification_id:
        return ingest.id_key("notification", notification.notification_id)
    return "sha256:" + hashlib.sha256(body).hexdigest()


class BadChunks(ValueError):
    """A chunked body whose framing is broken."""


def _read_body(request: HttpRequest, limit: int) -> bytes | None:
    """Return the body, or None when it is larger than `limit` (read no more than limit + 1)."""
    meta = request.META
    chunked = "chunked" in meta.get("HTTP_TRANSFER_ENCODING", "").lower()
    if chunked and not meta.get("CONTENT_LENGTH"):
        return _read_chunked(meta["wsgi.input"], limit)
    try:
        declared = int(meta.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > limit:
        return None
    body = request.read(limit + 1)
    return None if len(body) > limit else body


def _read_chunked(stream, limit: int) -> bytes | None:
    """Read a body sent with Transfer-Encoding: chunked (no Content-Length).

    Django's request stream is empty without a Content-Length, so read wsgi.input directly.
    gunicorn (and other servers that accept chunked requests) hand over the decoded body,
    ending at EOF. Django's development and test server hands over a stream limited to 0 bytes
    over the still-chunked socket: decode the chunks from the socket ourselves.
    """
    if isinstance(stream, LimitedStream) and stream.limit == 0:
        return _dechunk(stream._readline.__self__, limit)
    body = bytearray()
    while len(body) <= limit:
        piece = stream.read(min(65536, limit + 1 - len(body)))
        if not piece:
            return bytes(body)
        body += piece
    return None


def _dechunk(raw, limit: int) -> bytes | None:
    body = bytearray()
    while True:
        line = raw.readline(1026)
        try:
            size = int(line.split(b";", 1)[0].strip(), 16)
        except ValueError:
            raise BadChunks("The chunked body is malformed.") from None
        if size < 0:
            raise BadChunks("The chunked body is malformed.")
        if size == 0:
            for _ in range(100):  # optional trailers, then an empty line
                if not raw.readline(8192).strip():
                    return bytes(body)
            raise BadChunks("The chunked body has too many trailers.")
        if len(body) + size > limit:
            return None
        chunk = raw.read(size)
        if len(chunk) != size or raw.readline(3).strip():
            raise BadChunks("The chunked body ended early or is malformed.")
        body += chunk


@csrf_exempt
@csp_exempt()  # JSON for Cloud Elements, never a page: no policy to build
@require_POST
def receive(request: HttpRequest, uuid) -> HttpResponse:
    try:
        body = _read_body(request, settings.WEBHOOK_MAX_BODY_BYTES)
    except BadChunks as error:
        return JsonResponse({"error": str(error)}, status=400)
    if body is None:
        return JsonResponse({"error": "The body is larger than allowed."}, status=413)
    # The instance as this worker last read it, then, if that is out of date (a refusal, or a
    # store that found the instance changed), as the database has it now.
    for fresh in (False, True):
        try:
            receiver = ingest.find_receiving_instance(uuid, fresh=fresh)
        except DatabaseError:
            return JsonResponse({"error": "Try again later."}, status=503)
        if receiver is None:
            return JsonResponse({"error": "No such instance."}, status=404)
        response = _receive(request, body, receiver)
        if response is not None:
            return response
    # The instance changed between the read and the store, twice in a row: Cloud Elements
    # retries after a 503.
    return JsonResponse({"error": "Try again later."}, status=503)


UNKNOWN_KEY = (
    "This instance was imported from Cloud Elements, which does not show its signature key, so "
    "its deliveries cannot be verified here. Enter the key on the instance's page in the "
    "dashboard; Cloud Elements retries, and the deliveries are accepted from then on."
)


def _receive(request: HttpRequest, body: bytes, receiver: ingest.Receiver) -> HttpResponse | None:
    """Verify, parse and store; None when `receiver` was out of date (read it again).

    A cached read is never trusted to refuse: a key or Cloud Elements id that changed since
    is checked against the database's before any refusal.
    """
    instance = receiver.instance
    keys = instance.webhook.accepted_keys()
    signature = EventNotification.Signature.UNSIGNED
    if not keys and instance.webhook.signature_key_unknown:
        if receiver.cached:
            return None
        # Imported: Cloud Elements signs with a key it showed masked. Accepting unsigned would
        # let anyone post in its name; refusing quietly would hide why nothing arrives.
        security_log.warning("webhook for %s refused: signature key unknown here", instance.uuid)
        return JsonResponse({"error": UNKNOWN_KEY}, status=401)
    if keys:
        position = matching_key(keys, body, request.headers.get(SIGNATURE_HEADER))
        if position is None:
            if receiver.cached:
                return None
            security_log.warning("webhook signature rejected for instance %s", instance.uuid)
            # Counted for the health sweep; if that fails, the refusal stands all the same.
            with contextlib.suppress(DatabaseError):
                ingest.count_refusal(instance.pk)
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
    if notification.names_another_instance(instance.remote_id):
        if receiver.cached:
            return None
        # Two instances sharing a key must not accept each other's deliveries.
        security_log.warning("webhook for another instance refused at %s", instance.uuid)
        return JsonResponse(
            {"error": "The notification names another Cloud Elements instance than this one."},
            status=400,
        )
    return _store(receiver, notification, body, signature, request.headers)


def _store(receiver, notification: Notification, body: bytes, signature: str, headers):
    instance = receiver.instance
    webhook_id = _text(headers.get(WEBHOOK_ID_HEADER), None)
    first = notification.events[0] if notification.events else {}
    types = {event["eventType"] for event in notification.events}
    signed = signature != EventNotification.Signature.UNSIGNED
    fields = {
        "dedup_key": dedup_key(notification, webhook_id, body, signed=signed),
        # Shown and searched by their first 200 characters; the key above tells them apart.
        "remote_event_id": notification.event_id[:200],
        "webhook_id": webhook_id[:200],
        "signature": signature,
        "event_type": first.get("eventType", "") if len(types) <= 1 else "MIXED",
        "object_type": first.get("objectType", ""),
        "object_id": first.get("objectId", ""),
        "events": notification.events,
        "body": body.decode("utf-8", errors="replace"),
    }
    try:
        # The last round trip: the event and its day's count, in one statement.
        stored = ingest.store_delivery(instance_id=instance.pk, fields=fields, read=receiver.read)
    except DataError:
        # A value the database refuses: every retry would be refused the same way.
        logger.warning("webhook body refused by the database for instance %s", instance.uuid)
        return JsonResponse(
            {"error": "The notification holds values that cannot be stored."}, status=400
        )
    except DatabaseError:
        # Not stored: a non-2xx answer makes Cloud Elements retry.
        return JsonResponse({"error": "Try again later."}, status=503)
    if stored == ingest.STALE:
        return None
    if stored is None:
        # A redelivery of what we already have: acknowledge it so that retries stop.
        logger.info("webhook redelivery ignored for instance %s", instance.uuid)
    return JsonResponse({})
