"""Bodies, keys and requests shared by the receiver's tests (tests/events/test_receiver_*.py).

Cloud Elements POSTs `{"message": {..., "events": [...]}}` (or the legacy
`{eventId, instanceId, response: {events}, notificationId}`) signed with
`Elements-Webhook-Signature: sha256=<base64 HMAC-SHA256 of the raw body>` (reference section 6,
requirements W1-W8, D6). These helpers build such bodies and deliver them through Django's test
client; the `instance` and `unsigned_instance` fixtures are in tests/events/conftest.py.
"""

from __future__ import annotations

import json

from django.urls import reverse

from instances.events.models import EventNotification
from instances.events.signatures import sign
from instances.models import ElementInstance

KEY = "receiver-signing-key-Zt4q"
OTHER_KEY = "someone-elses-key-Hp2w"
ACTIVE = ElementInstance.Status.ACTIVE
VERIFIED = EventNotification.Signature.VERIFIED
VERIFIED_PREVIOUS = EventNotification.Signature.VERIFIED_PREVIOUS_KEY
UNSIGNED = EventNotification.Signature.UNSIGNED

# The documented legacy example (reference section 6, body shape B), without its eventId, which
# the receiver does not read (see test_the_legacy_event_id_is_not_the_dedup_key in
# test_receiver_dedup.py), and with the instance id of the `instance` fixture (conftest.py) in
# place of the example's 31.
LEGACY = {
    "instanceId": 1011,
    "response": {
        "events": [
            {
                "path": "/testfoldercreate",
                "metadata": {
                    "path": "/TestFolderCreate",
                    "name": "TestFolderCreate",
                    "type": "folder",
                },
            }
        ]
    },
    "notificationId": 1047,
}


def event(event_type: str = "CREATED", object_id: str = "/Reports/q3.pdf", **extra) -> dict:
    return {
        "elementKey": "dropbox",
        "eventType": event_type,
        "hubKey": "documents",
        "objectType": "file",
        "objectId": object_id,
        **extra,
    }


def message_body(
    event_id: str | None = "evt-1001",
    *,
    events: list | None = None,
    instance_id: int = 1011,
    **extra,
) -> bytes:
    """A body in the documented `message` shape, as Cloud Elements serialises it."""
    message = {
        "elementKey": "dropbox",
        "accountId": 123,
        "companyId": 456,
        "userId": 789,
        "instanceId": instance_id,
        "instance_id": instance_id,
        "instanceName": "Finance Dropbox",
        "instanceTags": ["finance"],
        "raw": {"list_folder": {"accounts": ["dbid:abc"]}},
        "events": [event()] if events is None else events,
        **extra,
    }
    if event_id is not None:
        message["eventId"] = event_id
    return json.dumps({"message": message}).encode()


def url_for(instance: ElementInstance) -> str:
    return reverse("events:receive", args=[instance.uuid])


def post(client, url: str, body: bytes, *, signature: str | None = None, webhook_id=None):
    headers = {}
    if signature is not None:
        headers["HTTP_ELEMENTS_WEBHOOK_SIGNATURE"] = signature
    if webhook_id is not None:
        headers["HTTP_ELEMENTS_WEBHOOK_ID"] = webhook_id
    return client.post(url, data=body, content_type="application/json", **headers)


def deliver(client, instance: ElementInstance, body: bytes, *, key: str = KEY, webhook_id=None):
    """POST `body` to the instance's receiver, signed with `key`."""
    return post(client, url_for(instance), body, signature=sign(key, body), webhook_id=webhook_id)


def with_key(instance: ElementInstance, key: str) -> ElementInstance:
    instance.webhook.signature_key = key
    instance.webhook.save()
    return instance


def rotate(instance: ElementInstance, new_key: str) -> ElementInstance:
    webhook = instance.webhook
    webhook.replace_signature_key(new_key)
    webhook.save()
    return ElementInstance.objects.select_related("webhook").get(pk=instance.pk)
