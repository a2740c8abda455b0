"""Models as the API's answers (dicts the schemas check): one place, for every operation."""

from __future__ import annotations

from django.conf import settings
from django.db.models import Prefetch, QuerySet

from instances.health.models import Problem
from instances.links.models import ConsentLink
from instances.models import ElementInstance


def instances_for_listing(queryset: QuerySet) -> QuerySet:
    """What `instance()` reads, in a constant number of queries for any page."""
    open_problems = Problem.objects.filter(resolved_at__isnull=True).order_by("-since")
    return queryset.select_related("webhook").prefetch_related(
        "tags", Prefetch("problems", queryset=open_problems, to_attr="open_problems")
    )


def instance(row: ElementInstance) -> dict:
    webhook = row.webhook
    return {
        "uuid": row.uuid,
        "name": row.name,
        "element_key": row.element_key,
        "status": row.status,
        "origin": row.origin,
        "authentication_type": row.authentication_type,
        "cloud_elements_id": row.remote_id,
        "valid_at_cloud_elements": row.remote_valid,
        "disabled_at_cloud_elements": row.remote_disabled,
        "deleted_at_cloud_elements": row.remote_missing,
        "changed_at_cloud_elements": row.drifted,
        "tags": sorted(tag.name for tag in row.tags.all()),
        "owner": {"name": row.owner_name, "email": row.owner_email} if row.owner_email else None,
        "events": {
            "enabled": webhook.enabled,
            "callback_url": webhook.callback_url,
            "signature_key": webhook.masked_signature_key,
        },
        "problems": [p.kind for p in getattr(row, "open_problems", [])],
        "last_error": row.last_error,
        "created_at": row.created_at,
        "updated_at": row.updated_at,
        "url": settings.SITE_URL + row.get_absolute_url(),
    }


def link_state(link: ConsentLink) -> str:
    if link.used_at:
        return "completed"
    if link.revoked_at:
        return "revoked"
    if link.is_expired:
        return "expired"
    return "opened" if link.opened_at else "waiting"


def consent_link(link: ConsentLink, *, with_url: bool) -> dict:
    """`with_url`: the link itself, a credential, only for whoever may make one (as on the
    dashboard, where only they may copy it)."""
    row = link.instance
    return {
        "id": link.pk,
        "purpose": link.purpose,
        "state": link_state(link),
        "url": link.get_absolute_url() if with_url and link.is_live else None,
        "expires_at": link.expires_at,
        "opened_at": link.opened_at,
        "used_at": link.used_at,
        "revoked_at": link.revoked_at,
        "instance": {
            "uuid": row.uuid,
            "name": row.name,
            "status": row.status,
            "cloud_elements_id": row.remote_id,
        },
    }


def job(row) -> dict:
    return {
        "id": row.pk,
        "kind": row.kind,
        "status": row.status,
        "total": row.total,
        "done": row.done,
        "failed": row.failed,
        "skipped": row.skipped,
        "created_at": row.created_at,
        "started_at": row.started_at,
        "finished_at": row.finished_at,
        "url": settings.SITE_URL + row.get_absolute_url(),
    }


def event(row, forwarding: dict[str, int] | None = None) -> dict:
    return {
        "forwarding": forwarding or {},
        "id": row.pk,
        "received_at": row.received_at,
        "event_type": row.event_type,
        "object_type": row.object_type,
        "object_id": row.object_id,
        "signature": row.signature,
        "events": row.events if isinstance(row.events, list) else [],
    }


def destination(row, queued: int) -> dict:
    state = "paused" if row.is_paused else "failing" if row.failing_since else "active"
    return {
        "id": row.pk,
        "name": row.name,
        "url": row.url,
        "element_keys": row.element_keys,
        "tags": row.tags,
        "event_types": row.event_types,
        "instances": [i.uuid for i in row.instances.all()],
        "max_in_flight": row.max_in_flight,
        "state": state,
        "paused_reason": row.paused_reason,
        "failing_since": row.failing_since,
        "last_success_at": row.last_success_at,
        "last_failure_at": row.last_failure_at,
        "last_failure": row.last_failure,
        "queued": queued,
        "created_at": row.created_at,
        "deleted_at": row.deleted_at,
    }


def delivery(row) -> dict:
    return {
        "id": row.pk,
        "event": row.event_id,
        "destination": row.destination_id,
        "state": row.state,
        "attempts": row.attempts,
        "next_attempt_at": row.next_attempt_at,
        "last_status": row.last_status,
        "last_error": row.last_error,
    }
