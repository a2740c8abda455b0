"""`/api/v1/destinations`: where received events are forwarded (the team's own app), and
`…/events/{id}/resend`. The same form and services as the dashboard's Forwarding pages."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest
from ninja import Router, Status

from instances.api import present
from instances.api.auth import READ, WRITE, ApiError, require
from instances.api.common import ERRORS, find, form_errors
from instances.api.schemas import (
    Delivery,
    Destination,
    DestinationList,
    DestinationRequest,
    DestinationSecret,
    Job,
    ReplayRequest,
    ResendRequest,
)
from instances.forwarding import replay, services
from instances.forwarding.forms import DestinationForm, ReplayForm
from instances.forwarding.models import Destination as Model

router = Router(tags=["forwarding"])
VIEW = "forwarding.view_destination"
ADD = "forwarding.add_destination"
CHANGE = "forwarding.change_destination"
DELETE = "forwarding.delete_destination"
LIVE = Model.objects.filter(deleted_at__isnull=True).prefetch_related("instances")


def _find(destination_id: int) -> Model:
    found = LIVE.filter(pk=destination_id).first()
    if found is None:
        raise ApiError(404, "No destination has this id.")
    return found


def _answer(destination: Model) -> dict:
    return present.destination(destination, services.queue_length(destination))


def _form(body: DestinationRequest, current: Model | None) -> DestinationForm:
    """The dashboard's form, filled from the body (and, on PATCH, the current values)."""
    given = body.model_dump(exclude_unset=True)
    now = DestinationForm(instance=current).initial if current else {}
    data = {
        "name": given.get("name", now.get("name", "")),
        "url": given.get("url", now.get("url", "")),
        "max_in_flight": given.get("max_in_flight", now.get("max_in_flight")),
        "element_keys": ", ".join(given["element_keys"] or [])
        if "element_keys" in given
        else now.get("element_keys", ""),
        "tags": ", ".join(given["tags"] or []) if "tags" in given else now.get("tags", ""),
        "event_types": ", ".join(given["event_types"] or [])
        if "event_types" in given
        else now.get("event_types", ""),
        "instance_list": "\n".join(given["instances"] or [])
        if "instances" in given
        else now.get("instance_list", ""),
    }
    if data["max_in_flight"] is None:
        data.pop("max_in_flight")
        if current is None:
            data["max_in_flight"] = settings.DESTINATION_MAX_IN_FLIGHT
    return DestinationForm({k: v for k, v in data.items() if v is not None}, instance=current)


def _save(form: DestinationForm, request: HttpRequest) -> Model:
    if not form.is_valid():
        errors = form_errors(form)
        if "instance_list" in errors:
            errors["instances"] = errors.pop("instance_list")
        raise ApiError(400, "Some fields are not valid.", errors)
    destination = form.save(commit=False)
    if destination.pk is None:
        destination.created_by = request.user
    destination.save()
    destination.instances.set(form.cleaned_data["instance_list"])
    return LIVE.get(pk=destination.pk)


@router.get("/destinations", response={200: DestinationList, **ERRORS}, summary="Destinations")
def list_destinations(request: HttpRequest):
    """Every destination (they are few: no paging)."""
    require(request, READ, VIEW)
    return {"items": [_answer(row) for row in LIVE.order_by("name", "pk")]}


@router.post("/destinations", response={201: Destination, **ERRORS}, summary="Make one")
def make_destination(request: HttpRequest, body: DestinationRequest):
    """Events received from now on that match its filters are forwarded to it. Its signing
    secret is read with `GET /destinations/{id}/secret`."""
    require(request, WRITE, ADD)
    return Status(201, _answer(_save(_form(body, None), request)))


@router.get("/destinations/{destination_id}", response={200: Destination, **ERRORS})
def read_destination(request: HttpRequest, destination_id: int):
    require(request, READ, VIEW)
    return _answer(_find(destination_id))


@router.patch("/destinations/{destination_id}", response={200: Destination, **ERRORS})
def change_destination(request: HttpRequest, destination_id: int, body: DestinationRequest):
    """Only the fields given change; the filters apply to events received from then on."""
    require(request, WRITE, CHANGE)
    return _answer(_save(_form(body, _find(destination_id)), request))


@router.delete("/destinations/{destination_id}", response={200: Destination, **ERRORS})
def delete_destination(request: HttpRequest, destination_id: int):
    """Nothing more is sent to it; its deliveries stay as history. Answers it as deleted."""
    require(request, WRITE, DELETE)
    destination = _find(destination_id)
    services.delete(destination)
    destination.refresh_from_db()
    return _answer(destination)


@router.get(
    "/destinations/{destination_id}/secret",
    response={200: DestinationSecret, **ERRORS},
    summary="Its signing secret",
)
def read_secret(request: HttpRequest, destination_id: int):
    require(request, WRITE, CHANGE)
    destination = _find(destination_id)
    still = destination.previous_signing_secret and destination.previous_secret_expires_at
    return {
        "signing_secret": destination.signing_secret,
        "previous_signing_secret": destination.previous_signing_secret if still else None,
        "previous_expires_at": destination.previous_secret_expires_at if still else None,
    }


@router.post("/destinations/{destination_id}/pause", response={200: Destination, **ERRORS})
def pause(request: HttpRequest, destination_id: int):
    """Deliveries keep queueing and go out once it is resumed."""
    require(request, WRITE, CHANGE)
    destination = _find(destination_id)
    services.pause(destination, reason=f"Paused by {request.user.get_username()} (API).")
    return _answer(destination)


@router.post("/destinations/{destination_id}/resume", response={200: Destination, **ERRORS})
def resume(request: HttpRequest, destination_id: int):
    """What queued meanwhile goes out now."""
    require(request, WRITE, CHANGE)
    destination = _find(destination_id)
    services.resume(destination)
    return _answer(destination)


@router.post(
    "/destinations/{destination_id}/replay",
    response={202: Job, **ERRORS},
    summary="Replay a time window",
)
def start_replay(request: HttpRequest, destination_id: int, body: ReplayRequest):
    """A job queues the window's events for it again; follow it with `GET /jobs/{id}`. The
    order of arrival is not promised; `webhook-id` is the same as before."""
    require(request, WRITE, CHANGE)
    destination = _find(destination_id)
    form = ReplayForm(body.model_dump())
    if not form.is_valid():
        raise ApiError(400, "Some fields are not valid.", form_errors(form))
    job = replay.start_replay(destination=destination, actor=request.user, **form.cleaned_data)
    return Status(202, present.job(job))


@router.post(
    "/instances/{uuid}/events/{event_id}/resend",
    response={202: Delivery, **ERRORS},
    summary="Resend an event",
)
def resend(request: HttpRequest, uuid: str, event_id: int, body: ResendRequest):
    """To the destination again (or for the first time), now, with the same `webhook-id`."""
    require(request, WRITE, CHANGE)
    event = find(uuid).events.filter(pk=event_id).first()
    if event is None:
        raise ApiError(404, "This instance has no event with this id.")
    try:
        delivery = services.resend(event=event, destination=_find(body.destination))
    except services.ForwardingError as error:
        raise ApiError(409, error.message) from None
    return Status(202, present.delivery(delivery))
