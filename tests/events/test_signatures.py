"""Webhook signatures: Cloud Elements' one documented test vector, and vectors computed here.

Only one vector is in the documentation (reference section 6, "Test vector (from the docs)"):
key `MySecretEventSignatureKey`, body `<INSERT_EVENT_NOTIFICATION_RESPONSE_BODY>`, header
`sha256=jHdbRx5EZAsOfTwAPJOGkNUzQMVVdu5VJlxcsk+G6jQ=`. Its values are copied below as data. The
others were computed here: they check self-consistency (and an independent HMAC construction),
not agreement with Cloud Elements.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import inspect

import pytest

from instances.events import signatures
from instances.events.signatures import SIGNATURE_HEADER, matching_key, sign

# The documented test vector, copied from the documentation.
KEY = "MySecretEventSignatureKey"
DOC_BODY = b"<INSERT_EVENT_NOTIFICATION_RESPONSE_BODY>"
DOC_SIGNATURE = "sha256=jHdbRx5EZAsOfTwAPJOGkNUzQMVVdu5VJlxcsk+G6jQ="

# Computed here with the same key (not documented): self-consistency only.
EMPTY_SIGNATURE = "sha256=C0gHWF2AgEYRn772QwLINL7VFZDYhJSOYgzFLE6vs4Q="
BRACES_SIGNATURE = "sha256=VCEjNAd+69UFD8GyBJHLTM9UoZnYx6WcvlKNmAG1gbU="
COMPUTED_HERE = [(b"", EMPTY_SIGNATURE), (b"{}", BRACES_SIGNATURE)]


def rfc2104_signature(key: str, body: bytes) -> str:
    """HMAC-SHA256 built by hand from RFC 2104 (not the hmac module), as Cloud Elements
    encodes it: standard padded base64 with a `sha256=` prefix."""
    block = key.encode().ljust(64, b"\0")
    inner = hashlib.sha256(bytes(b ^ 0x36 for b in block) + body).digest()
    outer = hashlib.sha256(bytes(b ^ 0x5C for b in block) + inner).digest()
    return "sha256=" + base64.b64encode(outer).decode()


def test_the_header_is_the_documented_one():
    assert SIGNATURE_HEADER == "Elements-Webhook-Signature"


def test_sign_reproduces_the_documented_test_vector():
    assert sign(KEY, DOC_BODY) == DOC_SIGNATURE


@pytest.mark.parametrize(("body", "expected"), COMPUTED_HERE, ids=["empty", "{}"])
def test_sign_reproduces_the_vectors_computed_here(body, expected):
    assert sign(KEY, body) == expected


@pytest.mark.parametrize(
    "body", [DOC_BODY, b"", b"{}", b'{"message": {"events": []}}', bytes(range(256))]
)
def test_sign_agrees_with_an_independent_hmac_construction(body):
    assert sign(KEY, body) == rfc2104_signature(KEY, body)
    assert rfc2104_signature(KEY, DOC_BODY) == DOC_SIGNATURE


def test_sign_uses_standard_padded_base64_not_the_url_safe_alphabet():
    value = sign(KEY, DOC_BODY)

    encoded = value.removeprefix("sha256=")
    assert "+" in encoded  # the documented vector holds a character URL-safe base64 replaces
    assert encoded.endswith("=")
    assert len(base64.b64decode(encoded, validate=True)) == 32


def test_matching_key_accepts_the_documented_test_vector():
    assert matching_key([KEY], DOC_BODY, DOC_SIGNATURE) == 0


@pytest.mark.parametrize(("body", "header"), COMPUTED_HERE, ids=["empty", "{}"])
def test_matching_key_accepts_the_vectors_computed_here(body, header):
    assert matching_key([KEY], body, header) == 0


def test_matching_key_returns_the_position_of_the_key_that_signed_during_rotation():
    keys = ["old-key", KEY, "next-key"]

    assert matching_key(keys, DOC_BODY, DOC_SIGNATURE) == 1
    assert matching_key(keys, DOC_BODY, sign("old-key", DOC_BODY)) == 0
    assert matching_key(keys, DOC_BODY, sign("next-key", DOC_BODY)) == 2


def test_matching_key_returns_none_when_no_key_signed():
    assert matching_key(["old-key", "next-key"], DOC_BODY, DOC_SIGNATURE) is None
    assert matching_key([], DOC_BODY, DOC_SIGNATURE) is None


def test_matching_key_rejects_a_tampered_body():
    assert matching_key([KEY], DOC_BODY + b" ", DOC_SIGNATURE) is None
    assert matching_key([KEY], b'{"a": 1}', sign(KEY, b'{"a":1}')) is None


@pytest.mark.parametrize("header", [None, ""], ids=["missing", "empty"])
def test_matching_key_rejects_a_missing_header(header):
    assert matching_key([KEY], DOC_BODY, header) is None


@pytest.mark.parametrize(
    "header",
    [
        "sha1=" + DOC_SIGNATURE.removeprefix("sha256="),
        DOC_SIGNATURE.removeprefix("sha256="),
        "SHA256=" + DOC_SIGNATURE.removeprefix("sha256="),
        "sha256=",
        "sha256=%%% not base64 %%%",
        DOC_SIGNATURE.replace("+", "-").replace("/", "_"),
        DOC_SIGNATURE + ", " + DOC_SIGNATURE,
        DOC_SIGNATURE + "x",
        "sha256=" + DOC_SIGNATURE.removeprefix("sha256=").rstrip("="),
    ],
    ids=[
        "sha1 prefix",
        "no prefix",
        "upper-case prefix",
        "prefix only",
        "non-base64 junk",
        "url-safe alphabet",
        "repeated",
        "trailing junk",
        "padding stripped",
    ],
)
def test_matching_key_rejects_a_malformed_header(header):
    assert matching_key([KEY], DOC_BODY, header) is None


def test_an_empty_key_never_matches_even_a_signature_made_with_an_empty_key():
    body = b"{}"

    assert matching_key([""], body, sign("", body)) is None
    assert matching_key(["", KEY], body, BRACES_SIGNATURE) == 1


def test_matching_key_compares_in_constant_time(monkeypatch):
    calls = []
    real = hmac.compare_digest

    def spy(a, b):
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(signatures.hmac, "compare_digest", spy)

    assert matching_key(["old-key", KEY], DOC_BODY, DOC_SIGNATURE) == 1
    assert (DOC_SIGNATURE.encode(), DOC_SIGNATURE.encode()) in calls
    assert len(calls) == 2
    assert all(type(a) is type(b) for a, b in calls)


def test_the_verifier_has_no_plain_equality_on_the_signature():
    source = inspect.getsource(signatures.matching_key)

    assert "==" not in source
    assert "!=" not in source
