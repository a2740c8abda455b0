"""The receiver checks the signature before it parses the body, and refuses all but the exact one.

Cloud Elements signs each delivery with `Elements-Webhook-Signature: sha256=<base64 HMAC-SHA256
of the raw body>` (reference section 6, W1, W3). The one documented test vector is checked first;
then any other header (another key or body, another algorithm, prefix or base64 spelling, none at
all) gets 401 `Invalid signature.`, stores nothing, and is logged as a security event without
secrets. An instance without a signature key accepts deliveries but records them as unsigned,
never as verified, whatever header they carry.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest

from instances.events.models import EventNotification
from instances.events.signatures import sign
from tests.events.receiver_helpers import (
    KEY,
    OTHER_KEY,
    UNSIGNED,
    deliver,
    event,
    message_body,
    post,
    url_for,
    with_key,
)

pytestmark = pytest.mark.django_db

DOCUMENTED_KEY = "MySecretEventSignatureKey"
DOCUMENTED_BODY = b"<INSERT_EVENT_NOTIFICATION_RESPONSE_BODY>"
DOCUMENTED_HEADER = "sha256=jHdbRx5EZAsOfTwAPJOGkNUzQMVVdu5VJlxcsk+G6jQ="


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
