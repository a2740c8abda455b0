"""`/api/v1/instances`: list (the list's filters, keyset-paged), read, change, act, delete.

Each operation calls the service the dashboard's page calls; nothing here decides a rule.
"""

from __future__ import annotations

from django.http import HttpRequest
from ninja import Query, Router, Schema

from instances import enablement, owners, search, services
from instances.api import present
from instances.api.auth import READ, WRITE, ApiError, require
from instances.api.common import (
    ERRORS,
    REMOTE_ERRORS,
    answer,
    calling_cloud_elements,
    filtered,
    find,
    form_errors,
)
from instances.api.schemas import EventsSwitch, Instance, InstanceChanges, InstancePage
from instances.forms import OwnerForm, SettingsForm
from instances.lib import keyset
from instances.models import ElementInstance

router = Router(tags=["instances"])
# What PATCH sends to Cloud Elements; the rest (the owner) is kept here.
REMOTE_FIELDS = {"name", "tags", "event_callback_url", "signature_key"}
MAX_LIMIT = 200


class InstanceFilters(Schema):
    q: str = ""
    status: str = ""
    events: str = ""
    tag: str = ""
    element: str = ""
    disabled: str = ""
    origin: str = ""
    remote: str = ""
    attention: str = ""
    problem: str = ""
    owner: str = ""
    cursor: str = ""
    limit: int = 50


@router.get("/instances", response={200: InstancePage, **ERRORS}, summary="List instances")
def list_instances(request: HttpRequest, filters: Query[InstanceFilters]):
    """Newest first, as the dashboard's list, with its filters and search; `next_cursor` gives
    the next page. The cost of a page does not grow with the number of instances."""
    require(request, READ)
    if not 1 <= filters.limit <= MAX_LIMIT:
        raise ApiError(400, "Some filters are not valid.", {"limit": [f"From 1 to {MAX_LIMIT}."]})
    values = filters.dict()
    cursor, limit = values.pop("cursor"), values.pop("limit")
    form = filtered(values)
    matching = form.filter(ElementInstance.objects.all())
    counted = search.count_matching(matching)
    rows = matching.order_by("-created_at", "-id")
    if cursor:
        after = keyset.parse_cursor(cursor)
        if after is None:
            raise ApiError(400, "Some filters are not valid.", {"cursor": ["Not a cursor."]})
        rows = rows.filter(keyset.older_than(*after, "created_at"))
    ids = list(rows.values_list("pk", flat=True)[: limit + 1])
    page = {
        row.pk: row
        for row in present.instances_for_listing(ElementInstance.objects.filter(pk__in=ids[:limit]))
    }
    items = [page[pk] for pk in ids[:limit] if pk in page]
    return {
        "items": [present.instance(row) for row in items],
        "next_cursor": keyset.cursor(items[-1], "created_at") if len(ids) > limit else None,
        "matching": counted.count,
        "matching_exact": counted.exact,
    }


@router.get("/instances/{uuid}", response={200: Instance, **ERRORS}, summary="Read an instance")
def read_instance(request: HttpRequest, uuid: str):
    require(request, READ)
    return present.instance(find(uuid))


@router.patch("/instances/{uuid}", response={200: Instance, **REMOTE_ERRORS}, summary="Change")
def change_instance(request: HttpRequest, uuid: str, changes: InstanceChanges):
    """Name, tags and event settings go to Cloud Elements (an active instance only); the owner
    is kept here. Fields left out keep their value."""
    require(request, WRITE)
    instance = find(uuid)
    given = changes.dict(exclude_unset=True)
    nulls = sorted(
        k for k in ("name", "tags", "event_callback_url") if k in given and given[k] is None
    )
    if nulls:
        raise ApiError(400, "Some fields are not valid.", {k: ["May not be null."] for k in nulls})
    # null removes the owner's name or address, and keeps the signature key (as leaving it out).
    given.update({k: "" for k in ("owner_name", "owner_email") if k in given and given[k] is None})
    if given.get("signature_key", "") is None:
        del given["signature_key"]
    remote = bool(REMOTE_FIELDS & given.keys())
    values = {
        "owner_name": given.get("owner_name", instance.owner_name),
        "owner_email": given.get("owner_email", instance.owner_email),
    }
    if remote:
        values |= {
            "name": given.get("name", instance.name),
            "tags": ", ".join(given.get("tags", instance.tag_names())),
            "event_callback_url": given.get("event_callback_url", instance.webhook.callback_url),
            "new_signature_key": given.get("signature_key") or "",
        }
    # The dashboard's forms: the edit form's rules when something goes to Cloud Elements, the
    # owner's alone when only the owner changes (kept here, whatever the instance's state).
    form = SettingsForm(values) if remote else OwnerForm(values)
    if not form.is_valid():
        errors = form_errors(form)
        if "new_signature_key" in errors:
            errors["signature_key"] = errors.pop("new_signature_key")
        raise ApiError(400, "Some fields are not valid.", errors)
    data = form.cleaned_data
    if {"owner_name", "owner_email"} & given.keys():
        owners.set_owner(
            instance=instance,
            name=data["owner_name"],
            email=data["owner_email"],
            actor=request.user,
        )
    if remote:
        calling_cloud_elements(
            lambda: services.update_settings(
                instance=instance,
                name=data["name"],
                tags=data["tags"],
                callback_url=data["event_callback_url"],
                signature_key=data["new_signature_key"] or None,
                actor=request.user,
            )
        )
    return answer(instance)


@router.put(
    "/instances/{uuid}/events-enabled",
    response={200: Instance, **REMOTE_ERRORS},
    summary="Events on or off",
)
def switch_events(request: HttpRequest, uuid: str, switch: EventsSwitch):
    require(request, WRITE)
    instance = find(uuid)
    calling_cloud_elements(
        lambda: services.set_events(instance=instance, enabled=switch.enabled, actor=request.user)
    )
    return answer(instance)


@router.post(
    "/instances/{uuid}/disable",
    response={200: Instance, **REMOTE_ERRORS},
    summary="Disable at Cloud Elements",
)
def disable(request: HttpRequest, uuid: str):
    return _set_enabled(request, uuid, enabled=False)


@router.post(
    "/instances/{uuid}/enable",
    response={200: Instance, **REMOTE_ERRORS},
    summary="Enable at Cloud Elements",
)
def enable(request: HttpRequest, uuid: str):
    return _set_enabled(request, uuid, enabled=True)


def _set_enabled(request: HttpRequest, uuid: str, *, enabled: bool) -> dict:
    require(request, WRITE)
    instance = find(uuid)
    calling_cloud_elements(
        lambda: enablement.set_enabled(instance=instance, enabled=enabled, actor=request.user)
    )
    return answer(instance)


@router.post(
    "/instances/{uuid}/sync",
    response={200: Instance, **REMOTE_ERRORS},
    summary="Sync from Cloud Elements",
)
def sync(request: HttpRequest, uuid: str):
    require(request, WRITE)
    instance = find(uuid)
    calling_cloud_elements(lambda: services.sync(instance=instance, actor=request.user))
    return answer(instance)


@router.delete("/instances/{uuid}", response={200: Instance, **REMOTE_ERRORS}, summary="Delete")
def delete(request: HttpRequest, uuid: str):
    """Deletes at Cloud Elements, then here (kept with its history, status deleted)."""
    require(request, WRITE)
    instance = find(uuid)
    calling_cloud_elements(lambda: services.delete(instance=instance, actor=request.user))
    return answer(instance)
