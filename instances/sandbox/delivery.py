"""Events the way Cloud Elements handles them (cloud-elements-api.md sections 5-7).

Dropbox posts its own notification (only account ids) to Cloud Elements' `/events/dropbox`;
Cloud Elements fetches the changes, records an event per instance, and notifies each instance's
`event.notification.callback.url` with a signed `{"message": {...}}` body. A failed
notification is retried on the documented schedule; after the last failure the subscription is
deactivated and later events are queued.

Statuses: the reference lists NEW, RECEIVED, DISPATCHED, CONSUMED, NOTIFIED without defining
them; the sandbox reads the list as the pipeline's order: NEW (recorded), RECEIVED (changes
fetched from Dropbox), DISPATCHED (handed to the event processor), CONSUMED (processed; stays
here while the callback fails or the event is queued), NOTIFIED (the callback answered 2xx).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
import uuid
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from instances.events.signatures import SIGNATURE_HEADER, sign

from .models import SandboxDelivery, SandboxEvent, SandboxInstance

EVENT_TYPES = ("CREATED", "UPDATED", "DELETED")
DELIVERY_TIMEOUT = 10
# Section 6: "up to 9" retries, the x-th after 2^(2x) seconds (4 s, 16 s, ...). The other
# documented version (5 retries, 2^(3x) s) is not modelled.
MAX_RETRIES = 9
ACCOUNT_PREFIX = "dbid:sandbox-"


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    # A delivery's outcome is the callback URL's own answer; a redirect is not followed.
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


_opener = urllib.request.build_opener(_NoRedirects)


# --- Dropbox's side -------------------------------------------------------------------------


def dropbox_notification(accounts: list[str]) -> dict:
    """The body Dropbox posts to a webhook URI: account ids only, never the changes."""
    return {"list_folder": {"accounts": list(accounts)}, "delta": {"users": [12345]}}


def record_change(instance: SandboxInstance, *, event_type: str, path: str) -> None:
    """A change happens in the instance's Dropbox; Cloud Elements fetches it later."""
    if event_type not in EVENT_TYPES:
        raise ValueError(f"event_type must be one of {', '.join(EVENT_TYPES)}")
    with transaction.atomic():
        # Read afresh: the caller's copy may predate Cloud Elements fetching earlier changes.
        fresh = SandboxInstance.objects.select_for_update().get(pk=instance.pk)
        fresh.pending_changes = [*fresh.pending_changes, {"type": event_type, "path": path}]
        fresh.save(update_fields=["pending_changes"])


# --- Cloud Elements' side -------------------------------------------------------------------


def _instances_for(accounts: list[str]) -> list[SandboxInstance]:
    ids = [a.removeprefix(ACCOUNT_PREFIX) for a in accounts if a.startswith(ACCOUNT_PREFIX)]
    return list(SandboxInstance.objects.filter(pk__in=[int(i) for i in ids if i.isdigit()]))


def _message(instance: SandboxInstance, event: SandboxEvent, changes: list[dict]) -> dict:
    return {
        "message": {
            "elementKey": instance.element_key,
            "accountId": 1,
            "companyId": 1,
            "userId": 12345,
            "eventId": str(event.id),
            "instanceId": instance.id,
            "instance_id": instance.id,
            "instanceName": instance.name,
            "instanceTags": list(instance.tags),
            "raw": event.provider_data,
            "events": [
                {
                    "elementKey": instance.element_key,
                    "eventType": change["type"],
                    "hubKey": "documents",
                    "objectType": "folder" if change["path"].endswith("/") else "file",
                    "objectId": change["path"].rstrip("/") or "/",
                }
                for change in changes
            ],
        }
    }


def receive_dropbox_notification(
    body: dict, *, instance_ids: list[int] | None = None, now: datetime | None = None
) -> list[SandboxEvent]:
    """Record one event per instance behind the notified accounts (or per instance named by
    id) and notify each one.

    A disabled instance, or one with events switched off, gets no event: its changes are
    dropped, as Cloud Elements has no subscription for it.
    """
    now = now or timezone.now()
    retry_due(now=now)
    recorded = []
    if instance_ids is None:
        instances = _instances_for(body["list_folder"]["accounts"])
    else:
        instances = list(SandboxInstance.objects.filter(pk__in=instance_ids))
    for instance in instances:
        with transaction.atomic():
            locked = SandboxInstance.objects.select_for_update().get(pk=instance.pk)
            changes = locked.pending_changes
            SandboxInstance.objects.filter(pk=instance.pk).update(pending_changes=[])
        if instance.disabled or not instance.events_enabled:
            continue
        if not changes:
            changes = [{"type": "UNKNOWN", "path": "/"}]
        with transaction.atomic():
            event = SandboxEvent.objects.create(
                instance=instance, event_date=now, provider_data=body
            )
            # NEW, RECEIVED and DISPATCHED pass within this call; a reader of the log sees
            # CONSUMED (not yet notified, or queued) or NOTIFIED.
            event.notified_data = _message(instance, event, changes)
            event.status = SandboxEvent.CONSUMED
            event.queued = not instance.subscription_active
            event.save()
        if not event.queued:
            notify(event, now=now)
        recorded.append(event)
    return recorded


def notify(event: SandboxEvent, *, now: datetime) -> SandboxDelivery | None:
    """POST the event's signed notification once; schedule a retry when it fails."""
    instance = event.instance
    configuration = instance.full_configuration()
    url = configuration.get("event.notification.callback.url")
    if not url or instance.disabled:
        return None
    # A retry resends the very bytes of the first attempt (jsonb does not keep key order).
    first = SandboxDelivery.objects.filter(event_id=str(event.id)).order_by("id").first()
    body = first.body.encode() if first else json.dumps(event.notified_data).encode()
    webhook_id = uuid.uuid4().hex
    headers = {"Content-Type": "application/json", "Elements-Webhook-Id": webhook_id}
    key = configuration.get("event.notification.signature.key")
    if key:
        headers[SIGNATURE_HEADER] = sign(str(key), body)
    delivery = SandboxDelivery(
        instance=instance,
        event_id=str(event.id),
        webhook_id=webhook_id,
        url=url,
        body=body.decode(),
    )
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310
    try:
        with _opener.open(request, timeout=DELIVERY_TIMEOUT) as response:
            delivery.status_code = response.status
    except urllib.error.HTTPError as error:
        delivery.status_code = error.code
    except (urllib.error.URLError, OSError) as error:
        delivery.error = str(getattr(error, "reason", error))[:500]
    delivery.save()
    _after_attempt(event, delivery, now=now)
    return delivery


def _after_attempt(event: SandboxEvent, delivery: SandboxDelivery, *, now: datetime) -> None:
    # Success is assumed to be any 2xx (section 6: UNCONFIRMED).
    if delivery.status_code and 200 <= delivery.status_code < 300:
        event.status, event.next_attempt_at = SandboxEvent.NOTIFIED, None
    elif event.attempts < MAX_RETRIES:
        event.next_attempt_at = now + timedelta(seconds=2 ** (2 * (event.attempts + 1)))
    else:
        # "the event subscription is deactivated, and future events are queued".
        event.next_attempt_at = None
        SandboxInstance.objects.filter(pk=event.instance_id).update(subscription_active=False)
        event.instance.subscription_active = False
    event.attempts += 1
    event.save(update_fields=["status", "next_attempt_at", "attempts"])


def retry_due(*, now: datetime | None = None) -> list[SandboxDelivery]:
    """Retry every failed notification whose next attempt is due."""
    now = now or timezone.now()
    due = SandboxEvent.objects.select_related("instance").filter(
        status=SandboxEvent.CONSUMED, queued=False, next_attempt_at__lte=now
    )
    return [sent for event in due if (sent := notify(event, now=now)) is not None]


def deliver_change(
    instance: SandboxInstance, *, event_type: str, path: str
) -> SandboxDelivery | None:
    """Simulate a Dropbox change end to end: Dropbox posts to Cloud Elements, which notifies.

    Returns the first notification attempt, or None when nothing was sent.
    """
    record_change(instance, event_type=event_type, path=path)
    events = receive_dropbox_notification(dropbox_notification([instance.dropbox_account]))
    if not events:
        return None
    return SandboxDelivery.objects.filter(event_id=str(events[0].id)).order_by("id").first()
