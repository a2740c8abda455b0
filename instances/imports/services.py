"""What an operator does with an imported or drifted instance: enter the secrets Cloud Elements
masks, send our values over a drift, have its events sent here, import one found at Cloud Elements.

Taking Cloud Elements' values over a drift is the ordinary sync (instances.services.sync).
"""

from __future__ import annotations

import secrets

from django.db import transaction
from django.views.decorators.debug import sensitive_variables

from instances import services, snapshots
from instances.cloud_elements import client as ce
from instances.forms import webhook_url
from instances.imports.models import DiscoveredInstance
from instances.imports.rows import import_one
from instances.models import AuditEntry, ElementInstance

Action = AuditEntry.Action
ActionError = services.ActionError


@sensitive_variables("oauth_api_secret", "api_key", "signature_key")
def enter_secrets(
    *,
    instance: ElementInstance,
    oauth_api_key: str = "",
    oauth_api_secret: str = "",
    api_key: str = "",
    signature_key: str = "",
    actor,
) -> list[str]:
    """Keep here what Cloud Elements showed masked; nothing is sent there. Returns what was
    entered (names only, for the message and the audit)."""
    entered = []
    fields = []
    if oauth_api_key:
        instance.oauth_api_key, entered = oauth_api_key, [*entered, "OAuth client id"]
        fields.append("oauth_api_key")
    if oauth_api_secret:
        instance.oauth_api_secret, entered = oauth_api_secret, [*entered, "OAuth client secret"]
        fields.append("oauth_api_secret")
    if api_key:
        instance.api_key, entered = api_key, [*entered, "API key"]
        fields.append("api_key")
    if not entered and not signature_key:
        raise ActionError("Enter at least one of the values; nothing was changed.")
    with transaction.atomic():
        if fields:
            instance.save(update_fields=[*fields, "updated_at"])
        if signature_key:
            webhook = instance.webhook
            webhook.replace_signature_key(signature_key)
            webhook.signature_key_unknown = False
            webhook.save(
                update_fields=[
                    "signature_key",
                    "previous_signature_key",
                    "previous_signature_key_expires_at",
                    "signature_key_unknown",
                ]
            )
            entered.append("signature key")
        services.record(
            instance,
            Action.SECRET_ENTERED,
            actor=actor,
            detail=f"Entered here (Cloud Elements shows them masked): {', '.join(entered)}.",
        )
    return entered


def send_ours(*, instance: ElementInstance, actor) -> ElementInstance:
    """Over a drift: make Cloud Elements hold this dashboard's name, tags and event settings."""
    here = snapshots.local(instance)
    services.update_settings(
        instance=instance,
        name=here["name"],
        tags=here["tags"],
        callback_url=here["callback_url"],
        signature_key=None,
        actor=actor,
    )
    if instance.remote_snapshot.get("events") != here["events"]:
        services.set_events(instance=instance, enabled=here["events"], actor=actor)
    return instance


def receive_events_here(*, instance: ElementInstance, actor) -> ElementInstance:
    """Point the instance's events at this dashboard, signed with a new key kept here.

    One PATCH of the two configuration entries; name, tags and whether events are on are left
    as Cloud Elements holds them.
    """
    remote_id = services._require_remote(instance)
    receiver = webhook_url(instance.uuid)
    key = secrets.token_urlsafe(32)
    before = instance.webhook.callback_url or "nowhere"
    changes = {
        "configuration": {
            "event.notification.callback.url": receiver,
            "event.notification.signature.key": key,
        }
    }
    try:
        updated = ce.update_instance(remote_id, changes)
    except ce.CloudElementsError as error:
        services._record_error(instance, error, actor=actor)
        raise
    webhook = instance.webhook
    with transaction.atomic():
        webhook.callback_url = receiver
        webhook.replace_signature_key(key)
        webhook.signature_key_unknown = False
        webhook.enabled = updated.events_enabled
        webhook.save()
        instance.remote_snapshot = {**instance.remote_snapshot, **snapshots.remote(updated)}
        instance.save(update_fields=snapshots.record(instance, updated))
        services.record(
            instance,
            Action.EVENTS_REDIRECTED,
            actor=actor,
            detail=f"Events sent here instead of {before}, signed with a new key.",
        )
    return instance


def import_discovered(*, discovered: DiscoveredInstance, actor) -> ElementInstance:
    """Import one instance listed as new at Cloud Elements (one GET)."""
    try:
        remote = ce.get_instance(discovered.remote_id)
    except ce.CloudElementsNotFoundError:
        discovered.delete()
        raise ActionError(
            f"“{discovered.name}” is not at Cloud Elements any more, so it was not imported."
        ) from None
    return import_one(remote, actor=actor)
