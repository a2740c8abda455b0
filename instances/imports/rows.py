"""Local rows for instances read from Cloud Elements: the instance, its webhook settings, its
tags and the audit entry that says it was imported, inserted in bulk and only once per account
and remote id (a concurrent import's rows are skipped, not duplicated)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from instances import parameters, snapshots
from instances.cloud_elements import client as ce
from instances.elements.services import kept_spec
from instances.imports.models import DiscoveredInstance
from instances.models import AuditEntry, ElementInstance, Tag, WebhookSettings

Status = ElementInstance.Status
Action = AuditEntry.Action


def insert(
    new: list[ce.Instance], *, actor, detail: str, tag_ids: dict[str, int] | None = None
) -> dict[int, int]:
    """Local rows for instances of the account, with their webhook settings, tags and audit
    entry; returns {remote id: local id} of the rows this call made. One that a concurrent scan
    inserted first is skipped by the unique (account, remote id), and only ours get the rest."""
    account = ce.account()
    now = timezone.now()
    actor = actor if getattr(actor, "is_authenticated", False) else None
    tag_ids = {} if tag_ids is None else tag_ids
    events = _sends_events({remote.element_key for remote in new})
    rows = [_row(remote, account, now, actor, events) for remote in new]
    ElementInstance.objects.bulk_create(rows, ignore_conflicts=True, batch_size=500)
    ours = dict(
        ElementInstance.objects.filter(uuid__in=[row.uuid for row in rows]).values_list(
            "remote_id", "pk"
        )
    )
    by_id = {remote.id: remote for remote in new if remote.id in ours}
    WebhookSettings.objects.bulk_create(
        [_webhook(ours[rid], remote) for rid, remote in by_id.items()], batch_size=500
    )
    TagLink = ElementInstance.tags.through
    TagLink.objects.bulk_create(
        [
            TagLink(elementinstance_id=ours[rid], tag_id=tag_id)
            for rid, remote in by_id.items()
            for tag_id in _tag_ids(remote.tags, tag_ids)
        ],
        ignore_conflicts=True,
        batch_size=1000,
    )
    AuditEntry.objects.bulk_create(
        [
            AuditEntry(instance_id=pk, action=Action.IMPORTED, actor=actor, detail=detail)
            for pk in ours.values()
        ],
        batch_size=500,
    )
    DiscoveredInstance.objects.filter(account=account, remote_id__in=list(ours)).delete()
    return ours


def import_one(remote: ce.Instance, *, actor) -> ElementInstance:
    """Import one instance read from Cloud Elements (or answer the row already here)."""
    with transaction.atomic():
        insert([remote], actor=actor, detail="Imported from Cloud Elements.")
    return ElementInstance.objects.get(account=ce.account(), remote_id=remote.id)


def _sends_events(keys: set[str]) -> dict[str, bool]:
    """Whether each element sends events, from its kept description (no remote call: an
    element never read is assumed to, as Dropbox does)."""
    return {key: spec.events_supported for key in keys if (spec := kept_spec(key)) is not None}


def _row(
    remote: ce.Instance, account: str, now: datetime, actor, events: dict[str, bool]
) -> ElementInstance:
    configuration = remote.configuration
    auth_type = str(configuration.get("authentication.type") or parameters.OAUTH2)
    if auth_type not in ElementInstance.AuthenticationType.values:
        auth_type = parameters.OAUTH2
    return ElementInstance(
        uuid=uuid.uuid4(),
        origin=ElementInstance.Origin.IMPORTED,
        account=account,
        remote_id=remote.id,
        element_key=(remote.element_key or parameters.DEFAULT_ELEMENT_KEY)[:64],
        sends_events=events.get(remote.element_key, True),
        name=(remote.name or f"Instance {remote.id}")[:200],
        authentication_type=auth_type,
        # Cloud Elements masks the OAuth app and API key: never invented, the page asks.
        oauth_api_key=(remote.setting("oauth.api.key") or "")[:200],
        oauth_api_secret=remote.setting("oauth.api.secret") or "",
        oauth_callback_url=(remote.setting("oauth.callback.url") or "")[:500],
        api_key=remote.setting(parameters.API_KEY_PARAMETER) or "",
        status=Status.ACTIVE,
        remote_token=remote.token,
        remote_valid=remote.valid,
        remote_disabled=remote.disabled,
        remote_created_at=created_at(remote),
        remote_snapshot=snapshots.remote(remote),
        remote_fingerprint=snapshots.fingerprint(remote),
        synced_at=now,
        created_by=actor,
    )


def _tag_ids(names: list[str], known: dict[str, int]) -> list[int]:
    """Tag ids for `names`, creating missing tags; `known` (lower-case name → id) is a cache."""
    missing = [name for name in names if Tag.normalize(name).lower() not in known]
    for tag in Tag.for_names(missing) if missing else ():
        known[tag.name.lower()] = tag.pk
    return sorted({known[Tag.normalize(n).lower()] for n in names if Tag.normalize(n)})


def created_at(remote: ce.Instance) -> datetime | None:
    """When Cloud Elements made the instance (`createdDate`), if it says so readably."""
    value = remote.created_date
    try:
        parsed = parse_datetime(value) if value else None
    except ValueError:
        return None
    if parsed is not None and timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed, UTC)
    return parsed


def _webhook(instance_id: int, remote: ce.Instance) -> WebhookSettings:
    key = remote.configuration.get("event.notification.signature.key")
    return WebhookSettings(
        instance_id=instance_id,
        enabled=remote.events_enabled,
        callback_url=(remote.setting(snapshots.CALLBACK_URL) or "")[:500],
        signature_key=remote.setting("event.notification.signature.key") or "",
        signature_key_unknown=key == parameters.MASKED,
    )
