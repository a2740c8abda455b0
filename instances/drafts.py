"""Fixing an instance Cloud Elements does not have yet (a draft, or a failed create).

Nothing exists remotely, so an edit is saved here only; Retry then sends the new values.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.views.decorators.debug import sensitive_variables

from instances import parameters
from instances.models import AuditEntry, ElementInstance, Tag, WebhookSettings
from instances.services import ActionError, record

Status = ElementInstance.Status
EDITABLE = (Status.DRAFT, Status.FAILED)

# Model field -> documented parameter, for the audit entry (which never holds a value).
INSTANCE_FIELDS = {
    "name": "name",
    "element_key": "key",
    "authentication_type": "authentication.type",
    "oauth_callback_url": "oauth.callback.url",
    "oauth_api_key": "oauth.api.key",
    "oauth_api_secret": "oauth.api.secret",
    "api_key": parameters.API_KEY_PARAMETER,
}
WEBHOOK_FIELDS = {
    "enabled": ("events_enabled", "event.notification.enabled"),
    "callback_url": ("event_callback_url", "event.notification.callback.url"),
    "signature_key": ("signature_key", "event.notification.signature.key"),
}


def is_editable(instance: ElementInstance) -> bool:
    return instance.status in EDITABLE


@sensitive_variables("data")
def update_draft(*, instance: ElementInstance, data: dict[str, Any], actor) -> ElementInstance:
    """Save new parameters of a draft or failed instance locally, with an audit entry."""
    with transaction.atomic():
        # Locked, and re-checked: a Retry may have claimed the instance meanwhile.
        locked = (
            ElementInstance.objects.select_for_update()
            .filter(pk=instance.pk, status__in=EDITABLE)
            .first()
        )
        if locked is None:
            raise ActionError(
                f"“{instance.name}” is no longer a draft or failed instance; nothing was changed."
            )
        webhook = WebhookSettings.objects.select_for_update().get(instance=locked)
        changed = []
        for field, parameter in INSTANCE_FIELDS.items():
            value = data.get(field) or ""
            if getattr(locked, field) != value:
                setattr(locked, field, value)
                changed.append(parameter)
        for field, (key, parameter) in WEBHOOK_FIELDS.items():
            value = bool(data.get(key)) if field == "enabled" else data.get(key) or ""
            if getattr(webhook, field) != value:
                setattr(webhook, field, value)
                changed.append(parameter)
        if "extras" in data:
            changed += _change_extras(locked, data["extras"])
        tags = Tag.for_names(data.get("tags", []))
        if sorted(t.name for t in tags) != sorted(locked.tag_names()):
            locked.tags.set(tags)
            changed.append("tags")
        locked.save()
        webhook.save()
        detail = (
            f"Edited here only (Cloud Elements does not have it yet): {', '.join(changed)}."
            if changed
            else "Saved with no changes."
        )
        record(locked, AuditEntry.Action.UPDATED, actor=actor, detail=detail)
    return locked


def _change_extras(instance: ElementInstance, extras: list) -> list[str]:
    """Set the element's other parameters; the keys whose value changed (never the values)."""
    before = {key: value for key, value, _ in instance.extras}
    after = {key: value for key, value, _ in extras}
    changed = [key for key in {**before, **after} if before.get(key) != after.get(key)]
    instance.set_extras(extras)
    return changed
