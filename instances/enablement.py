"""Disable and enable an instance at Cloud Elements (it keeps its configuration and token).

A disabled instance refuses API calls (403) and gets no events (cloud-elements-api.md
sections 4 and 5); here it keeps everything and shows the "Disabled" badge.
"""

from __future__ import annotations

from instances import snapshots
from instances.cloud_elements import client as ce
from instances.models import AuditEntry, ElementInstance
from instances.services import _record_error, _require_remote, _reread, record

Action = AuditEntry.Action


def set_enabled(*, instance: ElementInstance, enabled: bool, actor) -> ElementInstance:
    """Enable or disable at Cloud Elements, then record what Cloud Elements reports."""
    remote_id = _require_remote(instance)
    try:
        remote = ce.set_instance_enabled(remote_id, enabled=enabled)
    except ce.CloudElementsError as error:
        _record_error(instance, error, actor=actor)
        if error.ambiguous:
            error.read_back = _reread(instance, actor=actor)
        raise
    instance.remote_disabled = remote.disabled
    instance.save(
        update_fields=["remote_disabled", "updated_at", *snapshots.record(instance, remote)]
    )
    record(instance, Action.DISABLED if remote.disabled else Action.ENABLED, actor=actor)
    return instance


def error_message(instance: ElementInstance, error: Exception, *, enabled: bool) -> str:
    verb = "enabled" if enabled else "disabled"
    state = "disabled" if instance.remote_disabled else "enabled"
    return f"{instance.name}: not {verb}, it is still {state}. {getattr(error, 'message', error)}"
