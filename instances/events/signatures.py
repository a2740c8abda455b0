"""Cloud Elements webhook signatures: `Elements-Webhook-Signature: sha256=<base64 HMAC>`."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable

SIGNATURE_HEADER = "Elements-Webhook-Signature"
PREFIX = "sha256="


def sign(key: str, body: bytes) -> str:
    """Return the header value Cloud Elements sends for `body` signed with `key`."""
    digest = hmac.new(key.encode(), body, hashlib.sha256).digest()
    return PREFIX + base64.b64encode(digest).decode()


def matching_key(keys: Iterable[str], body: bytes, header: str | None) -> int | None:
    """Return the position of the first key whose signature equals `header`, else None.

    The raw body is hashed (never re-serialised JSON) and compared in constant time.
    """
    if not header or not header.startswith(PREFIX):
        return None
    received = header.encode()
    for position, key in enumerate(keys):
        if key and hmac.compare_digest(sign(key, body).encode(), received):
            return position
    return None
