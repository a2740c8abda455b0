"""What Cloud Elements holds of an instance's own settings, compared with what is here (drift).

A snapshot is the part both sides own: name, tags, whether events are on and where they go.
Valid and disabled are Cloud Elements' state, not settings: they enter the fingerprint (so that a
scan notices their change) but never count as drift.
"""

from __future__ import annotations

import hashlib
from typing import Any

from instances.cloud_elements import client as ce
from instances.forms import webhook_url
from instances.models import ElementInstance, Tag

CALLBACK_URL = "event.notification.callback.url"
# The fields of a snapshot, with the labels the instance page shows.
FIELDS = {"name": "Name", "tags": "Tags", "events": "Events", "callback_url": "Events go to"}


def _tags(names: list[str]) -> list[str]:
    unique: dict[str, str] = {}
    for name in names:
        clean = Tag.normalize(name)
        if clean:
            unique.setdefault(clean.lower(), clean)
    return sorted(unique.values(), key=str.lower)


def remote(instance: ce.Instance) -> dict[str, Any]:
    return {
        "name": instance.name,
        "tags": _tags(instance.tags),
        "events": instance.events_enabled,
        "callback_url": instance.setting(CALLBACK_URL) or "",
    }


def local(instance: ElementInstance) -> dict[str, Any]:
    """What is here; reads the tags through the prefetch cache when there is one."""
    webhook = instance.webhook
    return {
        "name": instance.name,
        "tags": _tags(instance.tag_names()),
        "events": webhook.enabled,
        "callback_url": webhook.callback_url,
    }


def fingerprint(instance: ce.Instance) -> str:
    """A digest of what a scan compares (computed for every listed instance: kept cheap)."""
    seen = remote(instance)
    parts = (
        seen["name"],
        "\x1e".join(seen["tags"]),
        seen["callback_url"],
        "1" if seen["events"] else "0",
        "1" if instance.valid else "0",
        "1" if instance.disabled else "0",
    )
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def differences(here: dict[str, Any], there: dict[str, Any]) -> list[dict[str, Any]]:
    """The fields that differ, as rows of (label, here, at Cloud Elements)."""
    rows = []
    for key, label in FIELDS.items():
        if key in there and _same(key, here.get(key), there.get(key)) is False:
            rows.append({"field": key, "label": label, "here": here.get(key), "there": there[key]})
    return rows


def _same(key: str, a: Any, b: Any) -> bool:
    if key == "tags":
        return [t.lower() for t in a or []] == [t.lower() for t in b or []]
    return a == b


def drift(instance: ElementInstance) -> list[dict[str, Any]]:
    """What differs between here and the last look at Cloud Elements (empty without one)."""
    if not instance.remote_snapshot:
        return []
    return differences(local(instance), instance.remote_snapshot)


def record(instance: ElementInstance, remote_instance: ce.Instance) -> list[str]:
    """Set the snapshot, fingerprint and drift flag from what Cloud Elements answered (not
    saved); returns the fields to save."""
    instance.remote_snapshot = remote(remote_instance)
    instance.remote_fingerprint = fingerprint(remote_instance)
    instance.drifted = bool(differences(local(instance), instance.remote_snapshot))
    return ["remote_snapshot", "remote_fingerprint", "drifted"]


def events_elsewhere(instance: ElementInstance) -> bool:
    """Its events go (or would go, once on) to another address than this dashboard's receiver."""
    url = instance.webhook.callback_url
    return bool(url) and url != webhook_url(instance.uuid)
