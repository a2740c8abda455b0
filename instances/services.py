"""Operations on active instances, shared by views, admin actions and commands.

Creating an instance and its OAuth consent live in consent.py.

The rule everywhere: save locally first, never hold a database transaction across a remote
call, change local state to match Cloud Elements only after it answered, and write down what
happened in the audit history.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from instances import snapshots
from instances.cloud_elements import client as ce
from instances.forms import webhook_url
from instances.models import AuditEntry, ElementInstance, Tag, WebhookSettings

Status = ElementInstance.Status
Action = AuditEntry.Action


class ActionError(Exception):
    """A request the instance's state does not allow; nothing was sent to Cloud Elements."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def record(
    instance: ElementInstance,
    action: str,
    *,
    actor=None,
    outcome: str = AuditEntry.Outcome.SUCCESS,
    detail: str = "",
    request_id: str = "",
) -> AuditEntry:
    return AuditEntry.objects.create(
        instance=instance,
        action=action,
        actor=actor if getattr(actor, "is_authenticated", False) else None,
        outcome=outcome,
        detail=detail[:2000],
        request_id=request_id,
    )


def _record_error(instance: ElementInstance, error: ce.CloudElementsError, *, actor) -> None:
    record(
        instance,
        Action.REMOTE_ERROR,
        actor=actor,
        outcome=AuditEntry.Outcome.FAILURE,
        detail=error.message,
        request_id=error.request_id,
    )


# --- Changing an active instance -----------------------------------------------------------

SYNCED_FIELDS = (
    "name",
    "remote_valid",
    "remote_disabled",
    "remote_missing",
    "last_error",
    "last_error_request_id",
    "synced_at",
)


def _require_remote(instance: ElementInstance) -> int:
    if instance.status != Status.ACTIVE or instance.remote_id is None:
        raise ActionError(
            f"“{instance.name}” is {instance.get_status_display().lower()}, not active at "
            "Cloud Elements, so there is nothing to change there."
        )
    return instance.remote_id


def set_events(*, instance: ElementInstance, enabled: bool, actor) -> ElementInstance:
    """Switch event notifications at Cloud Elements, then locally; unchanged on any error."""
    if not instance.sends_events:
        raise ActionError(f"“{instance.name}” has no events: its element does not send any.")
    remote_id = _require_remote(instance)
    webhook = instance.webhook
    callback_url = webhook.callback_url
    new_url = None
    if enabled and not callback_url:
        # Never had one: Cloud Elements refuses events without a URL; use our own receiver.
        callback_url = new_url = webhook_url(instance.uuid)
    try:
        updated = ce.set_events_enabled(remote_id, enabled=enabled, callback_url=new_url)
    except ce.CloudElementsError as error:
        _record_error(instance, error, actor=actor)
        if error.ambiguous:
            # The view says what the state now is, or that it could not be read back.
            error.read_back = _reread(instance, actor=actor)
        raise
    webhook.enabled = updated.events_enabled
    webhook.callback_url = callback_url
    webhook.save(update_fields=["enabled", "callback_url"])
    instance.save(update_fields=snapshots.record(instance, updated))
    action = Action.EVENTS_ENABLED if webhook.enabled else Action.EVENTS_DISABLED
    record(instance, action, actor=actor)
    return instance


@sensitive_variables("signature_key", "configuration")
def update_settings(
    *,
    instance: ElementInstance,
    name: str,
    tags: list[str],
    callback_url: str | None,
    signature_key: str | None,
    actor,
) -> ElementInstance:
    """Push name, tags and event settings with PATCH; a None signature key keeps the old one,
    and an element that sends no events is sent name and tags only."""
    remote_id = _require_remote(instance)
    webhook = instance.webhook
    # "Updating tags removes any existing tags": always send the full list.
    changes: dict[str, Any] = {"name": name, "tags": tags}
    if instance.sends_events:
        configuration: dict[str, Any] = {"event.notification.callback.url": callback_url}
        if signature_key is not None:
            configuration["event.notification.signature.key"] = signature_key
        changes["configuration"] = configuration
    else:
        callback_url, signature_key = webhook.callback_url, None
    try:
        updated = ce.update_instance(remote_id, changes)
    except ce.CloudElementsError as error:
        _record_error(instance, error, actor=actor)
        if error.ambiguous:
            if signature_key is not None:
                # Cloud Elements masks the key, so whether it took the new one cannot be read
                # back: accept both until the overlap ends rather than refuse its deliveries.
                webhook.replace_signature_key(signature_key)
                webhook.save(
                    update_fields=[
                        "signature_key",
                        "previous_signature_key",
                        "previous_signature_key_expires_at",
                    ]
                )
            error.read_back = _reread(instance, actor=actor)
        raise
    with transaction.atomic():
        instance.name = updated.name or name
        instance.save(update_fields=["name", "updated_at"])
        instance.tags.set(Tag.for_names(updated.tags))
        webhook.callback_url = callback_url
        if signature_key is not None:
            webhook.replace_signature_key(signature_key)
            webhook.signature_key_unknown = False
        webhook.save()
        instance.save(update_fields=snapshots.record(instance, updated))
        detail = (
            "Name, tags and event settings pushed"
            if instance.sends_events
            else ("Name and tags pushed")
        )
        if signature_key is not None:
            detail += "; signature key changed (the previous one is accepted for 72 hours)"
        record(instance, Action.UPDATED, actor=actor, detail=detail)
    return instance


def delete(*, instance: ElementInstance, actor) -> ElementInstance:
    """Delete at Cloud Elements, then keep the local row, marked deleted, with its history."""
    if instance.status == Status.DELETED:
        raise ActionError(f"“{instance.name}” is already deleted.")
    detail = "Deleted locally; it was never created at Cloud Elements."
    if instance.remote_id is not None:
        try:
            ce.delete_instance(instance.remote_id)
            detail = f"Deleted Cloud Elements instance {instance.remote_id}."
        except ce.CloudElementsNotFoundError:
            detail = f"Cloud Elements instance {instance.remote_id} was already gone."
        except ce.CloudElementsError as error:
            _record_error(instance, error, actor=actor)
            raise
    with transaction.atomic():
        _mark(instance, Status.DELETED)
        WebhookSettings.objects.filter(instance=instance).update(enabled=False)
        record(instance, Action.DELETED, actor=actor, detail=detail)
    return instance


def sync(*, instance: ElementInstance, actor) -> ElementInstance:
    """Refresh one instance from `GET /instances/{id}`."""
    remote_id = _require_remote(instance)
    try:
        remote = ce.get_instance(remote_id)
    except ce.CloudElementsNotFoundError:
        _flag_missing(instance, actor=actor)
        return instance
    except ce.CloudElementsError as error:
        _record_error(instance, error, actor=actor)
        raise
    _apply_remote(instance, remote, actor=actor)
    return instance


def _reread(instance: ElementInstance, *, actor) -> bool:
    """After a change that got no answer, take Cloud Elements' word for what it now holds."""
    try:
        _apply_remote(instance, ce.get_instance(instance.remote_id), actor=actor)
    except ce.CloudElementsError as error:
        _record_error(instance, error, actor=actor)
        return False
    return True


def sync_all(*, actor) -> dict[str, int]:
    """Refresh every active instance from one `GET /instances`."""
    remote = {item.id: item for item in ce.list_instances()}
    counts = {"synced": 0, "missing": 0, "failed": 0}
    local = ElementInstance.objects.filter(status=Status.ACTIVE, remote_id__isnull=False)
    for instance in local.select_related("webhook").prefetch_related("tags"):
        if instance.remote_id in remote:
            _apply_remote(instance, remote[instance.remote_id], actor=actor)
            counts["synced"] += 1
            continue
        # Paging of GET /instances is undocumented: confirm an absence one by one.
        try:
            sync(instance=instance, actor=actor)
        except ce.CloudElementsError:
            counts["failed"] += 1
            continue
        counts["missing" if instance.remote_missing else "synced"] += 1
    return counts


def _apply_remote(instance: ElementInstance, remote: ce.Instance, *, actor) -> None:
    # Masked values ("********") are never written over local secrets; setting() hides them.
    webhook = instance.webhook
    before = (instance.name, sorted(instance.tag_names()), webhook.enabled)
    with transaction.atomic():
        instance.name = remote.name or instance.name
        instance.remote_valid = remote.valid
        instance.remote_disabled = remote.disabled
        instance.remote_missing = False
        instance.last_error = ""
        instance.last_error_request_id = ""
        instance.synced_at = timezone.now()
        # Only what sync owns: a concurrent delete (status) must not be undone.
        instance.save(update_fields=[*SYNCED_FIELDS, "updated_at"])
        instance.tags.set(Tag.for_names(remote.tags))
        webhook.enabled = remote.events_enabled
        webhook.callback_url = (
            remote.setting("event.notification.callback.url") or webhook.callback_url
        )
        webhook.save(update_fields=["enabled", "callback_url"])
        instance.save(update_fields=snapshots.record(instance, remote))
        after = (instance.name, sorted(remote.tags), webhook.enabled)
        detail = "No changes." if before == after else f"Changed from {before} to {after}."
        record(instance, Action.SYNCED, actor=actor, detail=detail)


def _flag_missing(instance: ElementInstance, *, actor) -> None:
    message = (
        f"Cloud Elements has no instance {instance.remote_id} any more. It was kept here; "
        "delete it, or create it again."
    )
    instance.remote_missing = True
    instance.synced_at = timezone.now()
    instance.last_error = message
    instance.save(update_fields=["remote_missing", "synced_at", "last_error", "updated_at"])
    record(instance, Action.SYNCED, actor=actor, outcome=AuditEntry.Outcome.FAILURE, detail=message)


def _adopt(instance: ElementInstance, remote: ce.Instance) -> None:
    instance.account = ce.account()
    instance.remote_id = remote.id
    if remote.token:
        instance.remote_token = remote.token
    instance.status = Status.ACTIVE
    instance.remote_valid = remote.valid
    instance.remote_disabled = remote.disabled
    instance.remote_missing = False
    instance.last_error = ""
    instance.last_error_request_id = ""
    instance.save(
        update_fields=[
            "account",
            "remote_id",
            "remote_token",
            "status",
            *SYNCED_FIELDS[1:],
            *snapshots.record(instance, remote),
            "updated_at",
        ]
    )


def _mark(instance: ElementInstance, status: str, error: str = "", request_id: str = "") -> None:
    instance.status = status
    instance.last_error = error
    instance.last_error_request_id = request_id
    instance.save(update_fields=["status", "last_error", "last_error_request_id", "updated_at"])


def events_error_message(instance: ElementInstance, error: Exception) -> str:
    """What a failed switch left behind: unchanged, read back after no answer, or unknown."""
    state = "on" if instance.webhook.enabled else "off"
    if not getattr(error, "ambiguous", False):
        news = f"events are still {state}."
    elif getattr(error, "read_back", False):
        news = f"events are now {state} (read back from Cloud Elements)."
    else:
        news = "events may be on or off: Cloud Elements could not be read back; sync to check."
    return f"{instance.name}: {news} {error.message}"
