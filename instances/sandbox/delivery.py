"""Event delivery as Cloud Elements does it: a signed `{"message": {...}}` POST per change."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
import uuid

from instances.signatures import SIGNATURE_HEADER, sign

from .models import SandboxDelivery, SandboxInstance

EVENT_TYPES = ("CREATED", "UPDATED", "DELETED")
DELIVERY_TIMEOUT = 10


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    # A delivery's outcome is the callback URL's own answer; a redirect is not followed.
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


_opener = urllib.request.build_opener(_NoRedirects)


def build_notification(instance: SandboxInstance, *, event_type: str, path: str) -> dict:
    """Build the documented notification body for one Dropbox change."""
    object_type = "folder" if path.endswith("/") else "file"
    return {
        "message": {
            "elementKey": instance.element_key,
            "accountId": 1,
            "companyId": 1,
            "userId": 12345,
            "eventId": uuid.uuid4().hex,
            "instanceId": instance.id,
            "instance_id": instance.id,
            "instanceName": instance.name,
            "instanceTags": list(instance.tags),
            # What Dropbox itself posts to Cloud Elements' /events/dropbox endpoint.
            "raw": {"list_folder": {"accounts": ["dbid:sandbox"]}, "delta": {"users": [12345]}},
            "events": [
                {
                    "elementKey": instance.element_key,
                    "eventType": event_type,
                    "hubKey": "documents",
                    "objectType": object_type,
                    "objectId": path.rstrip("/") or "/",
                }
            ],
        }
    }


def deliver_change(
    instance: SandboxInstance, *, event_type: str, path: str
) -> SandboxDelivery | None:
    """Send one signed change notification; nothing is sent while events are disabled."""
    if event_type not in EVENT_TYPES:
        raise ValueError(f"event_type must be one of {', '.join(EVENT_TYPES)}")
    configuration = instance.full_configuration()
    url = configuration.get("event.notification.callback.url")
    if not instance.events_enabled or not url:
        return None
    notification = build_notification(instance, event_type=event_type, path=path)
    body = json.dumps(notification).encode()
    webhook_id = uuid.uuid4().hex
    headers = {"Content-Type": "application/json", "Elements-Webhook-Id": webhook_id}
    key = configuration.get("event.notification.signature.key")
    if key:
        headers[SIGNATURE_HEADER] = sign(str(key), body)
    delivery = SandboxDelivery(
        instance=instance,
        event_id=notification["message"]["eventId"],
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
    return delivery
