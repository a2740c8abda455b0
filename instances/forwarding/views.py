"""Destination pages: the list, the form, one destination with its deliveries and actions
(pause, resume, send a test, rotate or reveal the secret, replay a window, delete), and
**Resend** on an event's page."""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import wraps

from django.conf import settings
from django.contrib import messages
from django.contrib.admin.views.decorators import staff_member_required
from django.contrib.auth.decorators import permission_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from instances.accounts import sudo
from instances.events.models import EventNotification
from instances.forwarding import replay, services
from instances.forwarding.forms import DestinationForm, ReplayForm
from instances.forwarding.models import Delivery, Destination
from instances.jobs.models import Job
from instances.lib import keyset
from instances.lib.pages import page

security_log = logging.getLogger("instances.security")
can_view = permission_required("forwarding.view_destination", raise_exception=True)
can_add = permission_required("forwarding.add_destination", raise_exception=True)
can_change = permission_required("forwarding.change_destination", raise_exception=True)
can_delete = permission_required("forwarding.delete_destination", raise_exception=True)
DELIVERIES_PER_PAGE = 50
LIVE = Destination.objects.filter(deleted_at__isnull=True)


def _destination(pk: int) -> Destination:
    return get_object_or_404(LIVE, pk=pk)


def destination_action(permission: Callable) -> Callable:
    """A button on a destination's page: POST only, staff with `permission`, the (live)
    destination loaded for the view."""

    def decorator(view: Callable) -> Callable:
        @require_POST
        @staff_member_required
        @permission
        @wraps(view)
        def wrapped(request: HttpRequest, pk: int) -> HttpResponse:
            return view(request, _destination(pk))

        return wrapped

    return decorator


@require_GET
@staff_member_required
@can_view
def index(request: HttpRequest) -> HttpResponse:
    destinations = list(LIVE.order_by("name", "pk"))
    for destination in destinations:
        destination.queued = services.queue_length(destination)
    context = {
        "title": "Forwarding",
        "destinations": destinations,
        "cap": services.QUEUE_COUNT_CAP,
        "retry_hours": settings.FORWARDING_RETRY_HOURS,
    }
    return page(request, "forwarding/index.html", context)


@require_http_methods(["GET", "POST"])
@staff_member_required
@can_add
def new(request: HttpRequest) -> HttpResponse:
    form = DestinationForm(request.POST or None)
    if form.is_valid():
        destination = form.save(commit=False)
        destination.created_by = request.user
        destination.save()
        destination.instances.set(form.cleaned_data["instance_list"])
        messages.success(
            request,
            f"Destination “{destination.name}” made: events received from now on go to it. "
            "Reveal its signing secret to verify them in your app.",
        )
        return redirect(destination)
    context = {"title": "New destination", "form": form}
    return page(request, "forwarding/form.html", context, status=400 if form.errors else 200)


@require_http_methods(["GET", "POST"])
@staff_member_required
@can_change
def edit(request: HttpRequest, pk: int) -> HttpResponse:
    destination = _destination(pk)
    form = DestinationForm(request.POST or None, instance=destination)
    if form.is_valid():
        form.save()
        messages.success(request, "Saved. The filters apply to events received from now on.")
        return redirect(destination)
    context = {"title": f"Edit {destination.name}", "form": form, "destination": destination}
    return page(request, "forwarding/form.html", context, status=400 if form.errors else 200)


@require_GET
@staff_member_required
@can_view
def detail(request: HttpRequest, pk: int) -> HttpResponse:
    destination = _destination(pk)
    state = request.GET.get("state", "")
    deliveries = Delivery.objects.filter(destination=destination).select_related("event__instance")
    if state in Delivery.State.values:
        deliveries = deliveries.filter(state=state)
    else:
        state = ""
    context = {
        "title": destination.name,
        "destination": destination,
        "queued": services.queue_length(destination),
        "cap": services.QUEUE_COUNT_CAP,
        "state": state,
        "states": Delivery.State.choices,
        "deliveries": keyset.paginate(
            deliveries,
            request.GET,
            size=DELIVERIES_PER_PAGE,
            time_field="created_at",
            keep={"state": state} if state else {},
        ),
        "replay_form": ReplayForm(),
        "replays": destination_replays(destination),
    }
    return page(request, "forwarding/detail.html", context)


def destination_replays(destination: Destination):
    return Job.objects.filter(kind=Job.Kind.REPLAY, scope__destination=destination.pk).order_by(
        "-created_at"
    )[:5]


@destination_action(can_change)
def pause(request: HttpRequest, destination: Destination) -> HttpResponse:
    if services.pause(destination, reason=f"Paused by {request.user.get_username()}."):
        messages.success(request, "Paused: events queue here until you resume it.")
    else:
        messages.info(request, "It was paused already.")
    return redirect(destination)


@destination_action(can_change)
def resume(request: HttpRequest, destination: Destination) -> HttpResponse:
    waiting = services.resume(destination)
    messages.success(request, f"Resumed: {_count(waiting)} queued deliveries go out now.")
    return redirect(destination)


def _count(value: int) -> str:
    if value > services.QUEUE_COUNT_CAP:
        return f"more than {services.QUEUE_COUNT_CAP:,}"
    return f"{value:,}"


@destination_action(can_change)
def test(request: HttpRequest, destination: Destination) -> HttpResponse:
    answer = services.send_test(destination)
    text = f"in {answer.duration_ms} ms"
    if answer.delivered:
        messages.success(
            request, f"Test delivered: {destination.host} answered {answer.status} {text}."
        )
    else:
        messages.error(request, f"Test not delivered: {answer.error} ({text})")
    return redirect(destination)


@destination_action(can_change)
def rotate(request: HttpRequest, destination: Destination) -> HttpResponse:
    services.rotate_secret(destination)
    messages.success(
        request,
        "New signing secret made. For 24 hours each delivery carries a signature with the "
        "previous one too: update your app within that time.",
    )
    return redirect(destination)


@never_cache
@sensitive_post_parameters("password")
@destination_action(can_change)
def reveal(request: HttpRequest, destination: Destination) -> HttpResponse:
    asked = sudo.password_page(
        request,
        secret=f"the signing secret of “{destination.name}”",
        action=reverse("forwarding:reveal", args=[destination.pk]),
        back=(destination.name, destination.get_absolute_url()),
        crumbs=[("Forwarding", reverse("forwarding:index"))],
    )
    if asked:
        return asked
    security_log.info(
        "signing secret of destination %s revealed to %s", destination.pk, request.user.pk
    )
    context = {"title": "Signing secret", "destination": destination}
    return page(request, "forwarding/secret.html", context)


@destination_action(can_change)
def start_replay(request: HttpRequest, destination: Destination) -> HttpResponse:
    form = ReplayForm(request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(m for errors in form.errors.values() for m in errors))
        return redirect(destination)
    job = replay.start_replay(
        destination=destination,
        since=form.cleaned_data["since"],
        until=form.cleaned_data["until"],
        which=form.cleaned_data["which"],
        actor=request.user,
    )
    messages.success(request, "Replay started: its job queues the window's events.")
    return redirect(job)


@destination_action(can_delete)
def delete(request: HttpRequest, destination: Destination) -> HttpResponse:
    services.delete(destination)
    messages.success(request, f"Destination “{destination.name}” deleted: nothing more goes to it.")
    return redirect("forwarding:index")


@require_POST
@staff_member_required
@can_change
def resend(request: HttpRequest, uuid, event_id: int) -> HttpResponse:
    event = get_object_or_404(EventNotification, pk=event_id, instance__uuid=uuid)
    chosen = request.POST.get("destination", "")
    destination = get_object_or_404(LIVE, pk=int(chosen) if chosen.isdecimal() else 0)
    try:
        services.resend(event=event, destination=destination)
    except services.ForwardingError as error:
        messages.error(request, error.message)
    else:
        when = (
            "it is paused: this goes out once you resume it"
            if destination.is_paused
            else "it goes out in a moment"
        )
        messages.success(request, f"Queued for “{destination.name}”: {when}.")
    return redirect(f"{event.get_absolute_url()}#forwarding")
