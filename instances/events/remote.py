"""Cloud Elements' side of an instance's events, next to what our receiver stored.

An event Cloud Elements says it NOTIFIED that we never stored is "missing here": the way to
find lost deliveries. The log is read on demand, with one remote call for the whole list,
and cached briefly so that reloading the page does not call Cloud Elements again.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.core.cache import cache

from instances.cloud_elements import client as ce
from instances.models import ElementInstance

CACHE_SECONDS = 30
NOTIFIED = "NOTIFIED"


@dataclass(frozen=True)
class Row:
    remote: ce.RemoteEvent
    local_pk: int | None

    @property
    def missing_here(self) -> bool:
        return self.local_pk is None and self.remote.status == NOTIFIED


def compare_events(*, instance: ElementInstance) -> list[Row]:
    """Cloud Elements' recent events for `instance`, each matched with ours (one query)."""
    key = f"remote-events:{instance.remote_id}"
    remote = cache.get(key)
    if remote is None:
        remote = ce.list_instance_events(instance.remote_id)
        cache.set(key, remote, CACHE_SECONDS)
    ids = [event.notified_event_id for event in remote]
    stored = dict(
        instance.events.filter(remote_event_id__in=ids).values_list("remote_event_id", "pk")
    )
    return [Row(remote=event, local_pk=stored.get(event.notified_event_id)) for event in remote]
