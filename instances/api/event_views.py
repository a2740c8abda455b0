"""`/api/v1/instances/{uuid}/events`: the event notifications received for an instance, newest
first, keyset-paged, each with its verification outcome."""

from __future__ import annotations

from django.http import HttpRequest
from ninja import Query, Router, Schema

from instances.api import present
from instances.api.auth import READ, ApiError, require
from instances.api.common import ERRORS, find
from instances.api.schemas import EventPage
from instances.events.models import EventNotification
from instances.forwarding import services as forwarding
from instances.lib import keyset

router = Router(tags=["events"])


class Paging(Schema):
    cursor: str = ""
    limit: int = 50


@router.get("/instances/{uuid}/events", response={200: EventPage, **ERRORS}, summary="Events")
def list_events(request: HttpRequest, uuid: str, paging: Query[Paging]):
    require(request, READ)
    instance = find(uuid)
    if not 1 <= paging.limit <= 200:
        raise ApiError(400, "Some parameters are not valid.", {"limit": ["From 1 to 200."]})
    rows = EventNotification.objects.filter(instance=instance).order_by("-received_at", "-id")
    if paging.cursor:
        after = keyset.parse_cursor(paging.cursor)
        if after is None:
            raise ApiError(400, "Some parameters are not valid.", {"cursor": ["Not a cursor."]})
        rows = rows.filter(keyset.older_than(*after, "received_at"))
    page = list(rows[: paging.limit + 1])
    items = page[: paging.limit]
    more = len(page) > paging.limit
    states = forwarding.forwarding_states([row.pk for row in items])
    return {
        "items": [
            present.event(row, {state: n for state, _, n in states.get(row.pk, [])})
            for row in items
        ],
        "next_cursor": keyset.cursor(items[-1], "received_at") if more else None,
    }
