"""Showing a stored secret to a person, on purpose and on the record."""

from __future__ import annotations

from instances.models import AuditEntry, ElementInstance
from instances.services import record


def reveal_signature_key(*, instance: ElementInstance, actor) -> str:
    """Return the instance's signature key, writing down who saw it."""
    key = instance.webhook.signature_key
    if key:
        record(
            instance, AuditEntry.Action.KEY_REVEALED, actor=actor, detail="Signature key revealed"
        )
    return key
