"""The event-notification receiver at /webhooks/<uuid>/, through Django's test client.

Cloud Elements POSTs `{"message": {..., "events": [...]}}` (or the legacy
`{eventId, instanceId, response: {events}, notificationId}`) signed with
`Elements-Webhook-Signature: sha256=<base64 HMAC-SHA256 of the raw body>` (reference section 6,
requirements W1-W8, D6). The receiver verifies before it parses, stores each notification once
and answers 200 `{}`; it never answers 5xx to a malformed or forged request.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import json
import random
import socket
import urllib.request
import uuid
from datetime import timedelta

import pytest
import requests
from django.conf import settings as django_settings
from django.db import OperationalError, connection
from django.test import Client
from django.urls import URLResolver, get_resolver, reverse
from django.utils import timezone

from instances.cloud_elements import client as cloud_elements
from instances.cloud_elements.client import Instance
from instances.events import receiver as webhooks
from instances.events.models import EventNotification
from instances.events.signatures import sign
from instances.links import views as link_views
from instances.models import AuditEntry, ElementInstance
from instances.sandbox import event_views as sandbox_event_views
from instances.sandbox import hub_views as sandbox_hub_views
from instances.sandbox import views as sandbox_views

pytestmark = pytest.mark.django_db

KEY = "receiver-signing-key-Zt4q"
OTHER_KEY = "someone-elses-key-Hp2w"
DOCUMENTED_KEY = "MySecretEventSignatureKey"
DOCUMENTED_BODY = b"<INSERT_EVENT_NOTIFICATION_RESPONSE_BODY>"
DOCUMENTED_HEADER = "sha256=jHdbRx5EZAsOfTwAPJOGkNUzQMVVdu5VJlxcsk+G6jQ="
ACTIVE = ElementInstance.Status.ACTIVE
VERIFIED = EventNotification.Signature.VERIFIED
VERIFIED_PREVIOUS = EventNotification.Signature.VERIFIED_PREVIOUS_KEY
UNSIGNED = EventNotification.Signature.UNSIGNED

# The documented legacy example (reference section 6, body shape B), without its eventId, which
# the receiver does not read (see test_the_legacy_event_id_is_not_the_dedup_key), and with the
# instance id of the `instance` fixture in place of the example's 31.
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


# --- Helpers -------------------------------------------------------------------------------------


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


@pytest.fixture
def instance(make_instance) -> ElementInstance:
    """An active instance whose deliveries are signed with KEY."""
    return with_key(make_instance("Finance Dropbox", status=ACTIVE, remote_id=1011), KEY)


@pytest.fixture
def unsigned_instance(make_instance) -> ElementInstance:
    """An active instance with no signature key: Cloud Elements sends no signature header."""
    return make_instance("Unsigned Dropbox", status=ACTIVE, remote_id=2022)


# --- The documented test vector (W1) -------------------------------------------------------------


def test_the_documented_test_vector_signs_as_documented():
    # The one vector in the documentation; vectors computed here are in test_signatures.py.
    assert sign(DOCUMENTED_KEY, DOCUMENTED_BODY) == DOCUMENTED_HEADER


def test_it_checks_the_documented_vectors_signature_before_parsing_the_body(client, make_instance):
    documented = with_key(make_instance("Documented"), DOCUMENTED_KEY)

    # The documented body is not JSON: a right signature gets past the check to the parser.
    right = post(client, url_for(documented), DOCUMENTED_BODY, signature=DOCUMENTED_HEADER)
    wrong = post(client, url_for(documented), DOCUMENTED_BODY + b" ", signature=DOCUMENTED_HEADER)

    assert right.status_code == 400
    assert "JSON" in right.json()["error"]
    assert wrong.status_code == 401
    assert not EventNotification.objects.exists()


# --- A valid delivery ----------------------------------------------------------------------------


def test_it_stores_a_signed_notification_once_as_verified(client, instance):
    body = message_body("evt-1001", events=[event("UPDATED", "/Reports/q3.pdf")])

    response = deliver(client, instance, body, webhook_id="wh-77")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response.json() == {}
    stored = EventNotification.objects.get()
    assert stored.instance == instance
    assert stored.signature == VERIFIED
    assert stored.is_verified
    assert stored.event_type == "UPDATED"
    assert stored.object_type == "file"
    assert stored.object_id == "/Reports/q3.pdf"
    assert stored.remote_event_id == "evt-1001"
    assert stored.webhook_id == "wh-77"
    assert stored.dedup_key == "event:evt-1001"
    assert stored.events == [
        {"eventType": "UPDATED", "objectType": "file", "objectId": "/Reports/q3.pdf"}
    ]
    # The raw body is kept as received, byte for byte.
    assert stored.body.encode() == body
    assert timezone.now() - stored.received_at < timedelta(minutes=1)


def test_it_stores_every_event_of_a_batch_in_one_notification(client, instance):
    events = [
        event("CREATED", "/Reports/q1.pdf"),
        event("CREATED", "/Reports/q2.pdf", objectType="folder"),
        event("CREATED", "/Reports/q3.pdf"),
    ]

    response = deliver(client, instance, message_body("evt-batch", events=events))

    assert response.status_code == 200
    stored = EventNotification.objects.get()
    assert len(stored.events) == 3
    assert [e["objectId"] for e in stored.events] == [
        "/Reports/q1.pdf",
        "/Reports/q2.pdf",
        "/Reports/q3.pdf",
    ]
    assert [e["objectType"] for e in stored.events] == ["file", "folder", "file"]
    # The summary columns come from message.events[0].
    assert (stored.event_type, stored.object_type, stored.object_id) == (
        "CREATED",
        "file",
        "/Reports/q1.pdf",
    )


def test_a_batch_of_different_event_types_is_summarised_as_mixed(client, instance):
    events = [event("CREATED", "/a.txt"), event("DELETED", "/b.txt"), event("UPDATED", "/c.txt")]

    deliver(client, instance, message_body("evt-mixed", events=events))

    stored = EventNotification.objects.get()
    assert stored.event_type == "MIXED"
    assert stored.object_id == "/a.txt"
    assert [e["eventType"] for e in stored.events] == ["CREATED", "DELETED", "UPDATED"]


def test_an_event_without_an_event_type_is_recorded_as_unknown(client, instance):
    body = message_body("evt-untyped", events=[{"objectType": "file", "objectId": "/x"}])

    assert deliver(client, instance, body).status_code == 200

    assert EventNotification.objects.get().event_type == "UNKNOWN"


def test_it_reads_the_documented_legacy_shape(client, instance):
    response = deliver(client, instance, json.dumps(LEGACY).encode())

    assert response.status_code == 200
    assert response.json() == {}
    stored = EventNotification.objects.get()
    assert stored.signature == VERIFIED
    assert stored.object_id == "/testfoldercreate"
    assert stored.object_type == "folder"
    assert stored.event_type == "UNKNOWN"
    assert stored.events == [
        {"eventType": "UNKNOWN", "objectType": "folder", "objectId": "/testfoldercreate"}
    ]
    assert stored.dedup_key == "notification:1047"


# --- Refused signatures (W3) ---------------------------------------------------------------------


def urlsafe_signed_body() -> tuple[bytes, str]:
    """A body whose standard base64 signature has a '+' or '/', and its URL-safe spelling."""
    for n in range(1000):
        body = message_body(f"evt-urlsafe-{n}")
        header = sign(KEY, body)
        if "+" in header or "/" in header:
            return body, header.replace("+", "-").replace("/", "_")
    raise AssertionError("no body with '+' or '/' in its signature")


def _hmac(key: str, body: bytes, algorithm) -> bytes:
    return hmac.new(key.encode(), body, algorithm).digest()


BODY = message_body("evt-refused")
SIGNED = sign(KEY, BODY)
REFUSED_HEADERS = {
    "wrong-key": sign(OTHER_KEY, BODY),
    "missing": None,
    "empty": "",
    "sha1-hmac": "sha1=" + base64.b64encode(_hmac(KEY, BODY, hashlib.sha1)).decode(),
    "sha1-prefix": "sha1=" + SIGNED.removeprefix("sha256="),
    "no-prefix": SIGNED.removeprefix("sha256="),
    "upper-case-prefix": "SHA256=" + SIGNED.removeprefix("sha256="),
    "hex-digest": "sha256=" + _hmac(KEY, BODY, hashlib.sha256).hex(),
    "unpadded": SIGNED.rstrip("="),
    "trailing-space": SIGNED + " ",
    "two-signatures": f"{SIGNED},{SIGNED}",
    "other-body": sign(KEY, message_body("evt-other")),
    "prefix-only": "sha256=",
    "garbage": "sha256=not base64 at all!",
}


@pytest.mark.parametrize("header", REFUSED_HEADERS.values(), ids=REFUSED_HEADERS.keys())
def test_it_refuses_a_bad_signature_and_stores_nothing(client, instance, header):
    response = post(client, url_for(instance), BODY, signature=header)

    assert response.status_code == 401
    assert response.json() == {"error": "Invalid signature."}
    assert not EventNotification.objects.exists()


def test_it_refuses_a_url_safe_base64_signature(client, instance):
    body, urlsafe = urlsafe_signed_body()

    refused = post(client, url_for(instance), body, signature=urlsafe)
    accepted = deliver(client, instance, body)

    assert refused.status_code == 401
    assert accepted.status_code == 200
    assert EventNotification.objects.count() == 1


def test_a_tampered_body_is_refused(client, instance):
    body = message_body("evt-tampered", events=[event("CREATED", "/a.txt")])
    tampered = body.replace(b"/a.txt", b"/b.txt")

    response = post(client, url_for(instance), tampered, signature=sign(KEY, body))

    assert response.status_code == 401
    assert not EventNotification.objects.exists()


def test_a_refusal_is_logged_as_a_security_event_without_secrets(client, instance, caplog):
    header = sign(OTHER_KEY, BODY)

    with caplog.at_level("WARNING", logger="instances.security"):
        post(client, url_for(instance), BODY, signature=header)

    records = [r for r in caplog.records if r.name == "instances.security"]
    assert len(records) == 1
    assert records[0].levelname == "WARNING"
    assert str(instance.uuid) in records[0].getMessage()
    assert KEY not in caplog.text
    assert header.removeprefix("sha256=") not in caplog.text


# --- Unsigned instances --------------------------------------------------------------------------


def test_an_instance_without_a_key_accepts_and_marks_unsigned_deliveries(client, unsigned_instance):
    body = message_body("evt-unsigned", instance_id=unsigned_instance.remote_id)
    response = post(client, url_for(unsigned_instance), body)

    assert response.status_code == 200
    stored = EventNotification.objects.get()
    assert stored.signature == UNSIGNED
    assert not stored.is_verified
    assert stored.instance == unsigned_instance


def test_an_instance_without_a_key_never_records_a_delivery_as_verified(client, unsigned_instance):
    body = message_body("evt-claims-signed", instance_id=unsigned_instance.remote_id)

    response = post(client, url_for(unsigned_instance), body, signature=sign(KEY, body))

    assert response.status_code == 200
    assert EventNotification.objects.get().signature == UNSIGNED


# --- Key rotation (W5) ---------------------------------------------------------------------------


def rotate(instance: ElementInstance, new_key: str) -> ElementInstance:
    webhook = instance.webhook
    webhook.replace_signature_key(new_key)
    webhook.save()
    return ElementInstance.objects.select_related("webhook").get(pk=instance.pk)


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


# --- Malformed bodies get 400, never 500 ---------------------------------------------------------

MALFORMED = {
    "not-json": b"{not json",
    "empty": b"",
    "not-utf8": b'{"message": "\xff\xfe"}',
    "json-array": b'[{"message": {"events": []}}]',
    "json-string": b'"message"',
    "json-null": b"null",
    "neither-message-nor-response": b'{"eventId": "e", "events": []}',
    "message-not-an-object": b'{"message": "hello"}',
    "message-without-events": b'{"message": {"eventId": "e"}}',
    "events-not-a-list": b'{"message": {"eventId": "e", "events": {"eventType": "CREATED"}}}',
    "events-null": b'{"message": {"eventId": "e", "events": null}}',
    "events-of-strings": b'{"message": {"eventId": "e", "events": ["CREATED"]}}',
    "legacy-response-not-an-object": b'{"response": [], "notificationId": 1}',
    "legacy-events-not-a-list": b'{"response": {"events": "x"}, "notificationId": 1}',
    "big-number": b'{"message": {"eventId": ' + b"9" * 5000 + b', "events": []}}',
}


@pytest.mark.parametrize("body", MALFORMED.values(), ids=MALFORMED.keys())
def test_a_signed_malformed_body_gets_400_and_nothing_is_stored(client, instance, body):
    response = deliver(client, instance, body)

    assert response.status_code == 400
    assert response.json()["error"]
    assert not EventNotification.objects.exists()


@pytest.mark.parametrize("body", MALFORMED.values(), ids=MALFORMED.keys())
def test_an_unsigned_malformed_body_gets_400(client, unsigned_instance, body):
    response = post(client, url_for(unsigned_instance), body)

    assert response.status_code == 400
    assert not EventNotification.objects.exists()


def test_a_deeply_nested_body_gets_400_not_500(unsigned_instance):
    client = Client(raise_request_exception=False)

    response = post(client, url_for(unsigned_instance), b"[" * 100_000)

    assert response.status_code == 400


def test_a_lone_surrogate_in_an_event_field_never_gets_a_5xx(instance):
    client = Client(raise_request_exception=False)
    body = (
        b'{"message": {"eventId": "evt-surrogate", "events": '
        b'[{"eventType": "CREATED", "objectType": "file", "objectId": "/a\\ud800.txt"}]}}'
    )

    response = deliver(client, instance, body)

    # Valid JSON (an escaped lone surrogate): stored, with the surrogate replaced.
    assert response.status_code == 200
    assert EventNotification.objects.get().object_id == "/a?.txt"


def test_a_nul_character_in_an_event_field_is_acknowledged(instance):
    client = Client(raise_request_exception=False)
    body = (
        b'{"message": {"eventId": "evt-nul", "events": '
        b'[{"eventType": "CREATED", "objectType": "file", "objectId": "/a\\u0000b.txt"}]}}'
    )

    response = deliver(client, instance, body)

    assert response.status_code == 200
    assert EventNotification.objects.count() == 1


# --- Which instance (W4) -------------------------------------------------------------------------


def test_an_unknown_instance_gets_404(client, db):
    body = message_body("evt-nobody")

    response = post(
        client, reverse("events:receive", args=[uuid.uuid4()]), body, signature=sign(KEY, body)
    )

    assert response.status_code == 404
    assert not EventNotification.objects.exists()


def test_a_path_that_is_not_a_uuid_gets_404(client, instance):
    body = message_body("evt-bad-path")

    response = post(client, "/webhooks/1011/", body, signature=sign(KEY, body))

    assert response.status_code == 404
    assert not EventNotification.objects.exists()


def test_a_deleted_instance_gets_404(client, instance):
    instance.status = ElementInstance.Status.DELETED
    instance.save()

    response = deliver(client, instance, message_body("evt-after-delete"))

    assert response.status_code == 404
    assert not EventNotification.objects.exists()


@pytest.mark.parametrize("method", ["get", "put", "patch", "delete", "head"])
def test_only_post_is_allowed(client, instance, method):
    response = getattr(client, method)(url_for(instance))

    assert response.status_code == 405
    assert response["Allow"] == "POST"
    assert not EventNotification.objects.exists()


def test_a_signed_body_naming_another_instance_is_refused(client, instance, make_instance):
    # Two instances sharing a key must not accept each other's deliveries.
    other = with_key(make_instance("Other Dropbox", status=ACTIVE, remote_id=3033), KEY)
    body = message_body("evt-claims-other", instance_id=other.remote_id, instanceName=other.name)

    response = deliver(client, instance, body, key=KEY)

    assert response.status_code == 400
    assert response.json() == {
        "error": "The notification names another Cloud Elements instance than this one."
    }
    assert not EventNotification.objects.exists()
    assert deliver(client, other, body, key=KEY).status_code == 200
    assert EventNotification.objects.get().instance == other


@pytest.mark.parametrize(
    "named",
    [
        {"instanceId": 3033},
        {"instance_id": 3033},
        {"instanceId": 1011, "instance_id": 3033},
        {"instanceId": "3033"},
        {"instanceId": "1011x"},
        {"instanceId": True},
    ],
    ids=["instanceId", "instance_id", "either-differs", "string", "not-a-number", "boolean"],
)
def test_any_named_instance_id_that_differs_is_refused(client, instance, named):
    message = {"eventId": "evt-x", "events": [event()], **named}
    body = json.dumps({"message": message}).encode()

    assert deliver(client, instance, body).status_code == 400
    assert not EventNotification.objects.exists()


def test_a_legacy_body_naming_another_instance_is_refused(client, instance):
    body = json.dumps({**LEGACY, "instanceId": 31}).encode()

    assert deliver(client, instance, body).status_code == 400
    assert not EventNotification.objects.exists()


@pytest.mark.parametrize(
    "named", [{}, {"instanceId": "1011"}, {"instanceId": 1011.0}, {"instanceId": None}]
)
def test_a_body_naming_this_instance_or_none_is_accepted(client, instance, named):
    body = json.dumps({"message": {"eventId": "evt-y", "events": [event()], **named}}).encode()

    assert deliver(client, instance, body).status_code == 200
    assert EventNotification.objects.count() == 1


def test_an_unsigned_body_naming_another_instance_is_refused(client, unsigned_instance):
    response = post(client, url_for(unsigned_instance), message_body("evt-z", instance_id=1011))

    assert response.status_code == 400
    assert not EventNotification.objects.exists()


def test_the_key_is_chosen_by_the_url_not_the_body(client, instance, make_instance):
    other = with_key(make_instance("Other Dropbox", status=ACTIVE, remote_id=3033), OTHER_KEY)
    body = message_body("evt-other-key", instance_id=other.remote_id)

    # Signed with the other instance's key, sent to this instance's URL.
    response = deliver(client, instance, body, key=OTHER_KEY)

    assert response.status_code == 401
    assert not EventNotification.objects.exists()


# --- No network, and database failures (W7, W8) --------------------------------------------------


def test_it_makes_no_outbound_request_while_receiving(client, instance, monkeypatch):
    attempts: list[str] = []

    def refuse(name):
        def fake(*args, **kwargs):
            attempts.append(name)
            raise AssertionError(f"outbound network call: {name}")

        return fake

    monkeypatch.setattr(requests.adapters.HTTPAdapter, "send", refuse("requests"))
    monkeypatch.setattr(urllib.request, "urlopen", refuse("urlopen"))
    monkeypatch.setattr(urllib.request.OpenerDirector, "open", refuse("opener"))
    monkeypatch.setattr(http.client.HTTPConnection, "connect", refuse("http.client"))
    monkeypatch.setattr(socket, "create_connection", refuse("socket"))

    response = deliver(client, instance, message_body("evt-offline"))

    assert response.status_code == 200
    assert attempts == []
    assert EventNotification.objects.count() == 1


def failing_event_inserts(message: str):
    """A database that refuses to store events (the fault injected at the driver's seam)."""

    def execute(run, sql, params, many, context):
        if sql.lstrip().startswith(("INSERT", "WITH")) and "instances_eventnotification" in sql:
            raise OperationalError(message)
        return run(sql, params, many, context)

    return connection.execute_wrapper(execute)


def test_a_database_failure_while_storing_answers_503(client, instance):
    with failing_event_inserts("server closed the connection unexpectedly"):
        response = deliver(client, instance, message_body("evt-db-down"))

    assert response.status_code == 503
    assert response.json() == {"error": "Try again later."}
    assert not EventNotification.objects.exists()


def test_a_database_failure_while_finding_the_instance_answers_503(client, instance):
    def fail_lookups(run, sql, params, many, context):
        if sql.lstrip().startswith("SELECT") and "instances_elementinstance" in sql:
            raise OperationalError("could not connect to server")
        return run(sql, params, many, context)

    with connection.execute_wrapper(fail_lookups):
        response = deliver(client, instance, message_body("evt-db-down"))

    assert response.status_code == 503
    assert not EventNotification.objects.exists()


def test_after_a_503_the_retry_is_stored(client, instance):
    body = message_body("evt-retry-after-503")

    with failing_event_inserts("database is locked"):
        first = deliver(client, instance, body)
    retry = deliver(client, instance, body)

    assert (first.status_code, retry.status_code) == (503, 200)
    assert EventNotification.objects.get().remote_event_id == "evt-retry-after-503"


# --- CSRF: the receiver is the only exempt view (D6) ---------------------------------------------


def csrf_exempt_callbacks(patterns) -> set:
    found = set()
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            found |= csrf_exempt_callbacks(pattern.url_patterns)
        elif getattr(pattern.callback, "csrf_exempt", False):
            found.add(pattern.callback)
    return found


def all_callbacks(patterns) -> set:
    found = set()
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            found |= all_callbacks(pattern.url_patterns)
        else:
            found.add(pattern.callback)
    return found


# The sandbox stands in for Cloud Elements' remote JSON API (authenticated by the Authorization
# header) and is mounted only in sandbox mode. Listed one by one: any new exempt view fails.
SANDBOX_PLATFORM_API = {
    sandbox_views.oauth_url,
    sandbox_views.instances,
    sandbox_views.element_instances,
    sandbox_views.instance,
    sandbox_views.configuration,
    sandbox_views.not_found,
    sandbox_views.element_instance,
    sandbox_views.configuration_entry,
    sandbox_views.token_configuration,
    sandbox_views.token_configuration_entry,
    sandbox_views.enabled,
    sandbox_views.token_enabled,
    sandbox_event_views.account_events,
    sandbox_event_views.event,
    sandbox_event_views.instance_events,
    # Dropbox's own POST to Cloud Elements' Webhook URI carries no CSRF token.
    sandbox_event_views.dropbox_webhook,
    sandbox_hub_views.hub,
}


def test_the_receiver_is_the_only_csrf_exempt_view_besides_the_sandbox_api(settings):
    patterns = get_resolver().url_patterns
    callbacks = all_callbacks(patterns)

    exempt = csrf_exempt_callbacks(patterns)

    # The walk really reached the dashboard, the admin and the receiver.
    assert len(callbacks) > 30
    assert any(getattr(c, "__module__", "") == "instances.views" for c in callbacks)
    assert any(getattr(c, "__module__", "").startswith("django.contrib.admin") for c in callbacks)
    # The consent link page is exempt from the global middleware only because its page sends
    # no Referer (so browsers send `Origin: null`); it checks the CSRF token itself
    # (test_consent_links.py::test_continue_needs_the_csrf_token_...).
    expected = {webhooks.receive, link_views.connect}
    if settings.CLOUD_ELEMENTS_SANDBOX:
        expected |= SANDBOX_PLATFORM_API
        assert {c.__module__ for c in SANDBOX_PLATFORM_API} == {
            "instances.sandbox.views",
            "instances.sandbox.event_views",
            "instances.sandbox.hub_views",
        }
        # The sandbox's consent form and simulate action are ordinary protected forms.
        assert sandbox_views.authorize in callbacks
        assert sandbox_views.simulate in callbacks
    assert exempt == expected


def dashboard_posts(instance: ElementInstance) -> list[str]:
    return [
        reverse("instances:events", args=[instance.uuid]),
        reverse("instances:sync", args=[instance.uuid]),
        reverse("instances:retry", args=[instance.uuid]),
        reverse("instances:reauthorize", args=[instance.uuid]),
        reverse("instances:edit", args=[instance.uuid]),
        reverse("instances:delete", args=[instance.uuid]),
        reverse("instances:new"),
        reverse("instances:sync_all"),
        reverse("admin:instances_elementinstance_changelist"),
        reverse("admin:logout"),
    ]


def test_a_dashboard_post_without_a_csrf_token_is_forbidden(operator, instance):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(operator)

    answers = {
        url: browser.post(url, {"enabled": "on", "name": "changed"}).status_code
        for url in dashboard_posts(instance)
    }

    assert answers == dict.fromkeys(dashboard_posts(instance), 403)
    instance.refresh_from_db()
    instance.webhook.refresh_from_db()
    assert instance.webhook.enabled is False
    assert instance.name == "Finance Dropbox"
    assert instance.status == ACTIVE
    assert not AuditEntry.objects.exists()


def test_the_same_dashboard_post_with_its_token_goes_through(operator, instance, monkeypatch):
    def update_instance(instance_id: int, changes: dict) -> Instance:
        enabled = changes.get("configuration", {}).get("event.notification.enabled", False)
        return Instance(id=instance_id, name="x", element_key="dropbox", events_enabled=enabled)

    monkeypatch.setattr(cloud_elements, "update_instance", update_instance)
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(operator)
    browser.get(instance.get_absolute_url())
    token = browser.cookies[django_settings.CSRF_COOKIE_NAME].value

    response = browser.post(
        reverse("instances:events", args=[instance.uuid]),
        {"enabled": "on", "csrfmiddlewaretoken": token},
    )

    assert response.status_code == 302
    instance.webhook.refresh_from_db()
    assert instance.webhook.enabled is True


def test_the_receiver_needs_no_csrf_token(instance):
    sender = Client(enforce_csrf_checks=True)

    response = deliver(sender, instance, message_body("evt-no-csrf"))

    assert response.status_code == 200
    assert EventNotification.objects.count() == 1


# --- Property: never 5xx, 2xx only when signed (W3) ----------------------------------------------

# Lone surrogates, NUL and deep nesting are left out: they have their own tests above.
ALPHABET = "abcXYZ019 /._-:+=\"'\\\n\té日😀<>&{}[],"


def random_text(rng: random.Random, limit: int = 20) -> str:
    return "".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, limit)))


def random_json(rng: random.Random, depth: int = 0):
    kinds = ["str", "int", "float", "bool", "null"] + (["list", "dict"] if depth < 4 else [])
    kind = rng.choice(kinds)
    if kind == "str":
        return random_text(rng)
    if kind == "int":
        return rng.randint(-(10**12), 10**12)
    if kind == "float":
        return rng.uniform(-1e6, 1e6)
    if kind == "bool":
        return rng.random() < 0.5
    if kind == "null":
        return None
    if kind == "list":
        return [random_json(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    return {random_text(rng, 8): random_json(rng, depth + 1) for _ in range(rng.randint(0, 4))}


def random_event(rng: random.Random) -> dict:
    fields = {
        "eventType": rng.choice(["CREATED", "UPDATED", "DELETED", "UNKNOWN", random_text(rng)]),
        "objectType": rng.choice(["file", "folder", random_json(rng)]),
        "objectId": rng.choice(["/" + random_text(rng), random_json(rng)]),
        "elementKey": "dropbox",
    }
    return {k: v for k, v in fields.items() if rng.random() < 0.85}


def random_body(rng: random.Random) -> tuple[bytes, bool]:
    """A body, and whether it is a valid notification shape."""
    kind = rng.choice(["message", "legacy", "json", "bytes", "mutated"])
    if kind == "message":
        message = {"events": [random_event(rng) for _ in range(rng.randint(0, 4))]}
        if rng.random() < 0.7:
            message["eventId"] = rng.choice([random_text(rng), rng.randint(0, 10**9)])
        if rng.random() < 0.3:
            message["notificationId"] = random_json(rng)
        return json.dumps({"message": message}, ensure_ascii=rng.random() < 0.5).encode(), True
    if kind == "legacy":
        events = [
            {"path": "/" + random_text(rng), "metadata": {"type": rng.choice(["file", "folder"])}}
            for _ in range(rng.randint(0, 3))
        ]
        legacy = {"response": {"events": events}, "notificationId": rng.randint(0, 10**6)}
        return json.dumps(legacy).encode(), True
    if kind == "json":
        return json.dumps(random_json(rng)).encode(), False
    if kind == "bytes":
        return bytes(rng.randrange(256) for _ in range(rng.randint(0, 120))), False
    valid = bytearray(message_body(random_text(rng)))
    valid[rng.randrange(len(valid))] = rng.randrange(256)
    return bytes(valid), False


def random_header(rng: random.Random, body: bytes) -> str | None:
    right = sign(KEY, body)
    if rng.random() < 0.5:
        return right
    kind = rng.choice(["other-key", "other-body", "flipped", "junk", "none"])
    if kind == "other-key":
        return sign(OTHER_KEY, body)
    if kind == "other-body":
        return sign(KEY, body + b"x")
    if kind == "flipped":
        position = rng.randrange(len("sha256="), len(right))
        replacement = rng.choice([c for c in "ABCxyz019+/=" if c != right[position]])
        return right[:position] + replacement + right[position + 1 :]
    if kind == "junk":
        return rng.choice(["", "sha256=", "sha1=" + right[7:]]) + random_text(rng, 50)
    return None


def test_random_deliveries_never_get_a_5xx_and_get_a_2xx_only_when_signed(instance):
    rng = random.Random(20240611)
    client = Client(raise_request_exception=False)
    url = url_for(instance)
    outcomes = []

    for _ in range(200):
        body, well_formed = random_body(rng)
        header = random_header(rng, body)
        webhook_id = random_text(rng, 30) if rng.random() < 0.5 else None
        before = EventNotification.objects.count()

        response = post(client, url, body, signature=header, webhook_id=webhook_id)

        status = response.status_code
        signed = header == sign(KEY, body)
        outcomes.append((signed, status))
        assert status < 500, (body, header, status)
        if not signed:
            assert status == 401, (body, header, status)
        elif well_formed:
            assert status == 200, (body, header, status)
        else:
            assert status in {200, 400}, (body, header, status)
        if status != 200:
            assert EventNotification.objects.count() == before
        else:
            assert EventNotification.objects.count() in {before, before + 1}

    # The run covered both sides of the property.
    assert sum(1 for signed, status in outcomes if status == 200) >= 40
    assert sum(1 for signed, status in outcomes if status == 401) >= 40
    assert any(status == 400 for signed, status in outcomes)


def test_the_receivers_json_answer_carries_no_page_policy_and_pages_keep_theirs(client, instance):
    # The policy is for pages; building it cost the receiver a tenth of its CPU per delivery.
    delivered = deliver(client, instance, message_body("evt-no-policy"))
    page = client.get(reverse("admin:login"))

    assert delivered.status_code == 200
    assert "Content-Security-Policy" not in delivered
    assert "default-src 'self'" in page["Content-Security-Policy"]
