"""Random deliveries never get a 5xx, and get a 2xx only when signed with the instance's key (W3).

A seeded run of 200 deliveries: bodies in both documented shapes, other JSON, random and mutated
bytes; headers right, signed with another key or body, altered or missing. Unsigned ones get
401, well-formed signed ones 200, and nothing is stored unless the answer is 200.
"""

from __future__ import annotations

import json
import random

import pytest
from django.test import Client

from instances.events.models import EventNotification
from instances.events.signatures import sign
from tests.events.receiver_helpers import KEY, OTHER_KEY, message_body, post, url_for

pytestmark = pytest.mark.django_db


# --- Property: never 5xx, 2xx only when signed (W3) ----------------------------------------------

# Lone surrogates, NUL and deep nesting are left out: test_receiver_malformed_bodies.py has them.
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
