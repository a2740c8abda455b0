"""An instance's received events as pages of the dashboard, and Cloud Elements' own log."""

from __future__ import annotations

from django.contrib.admin.views.decorators import staff_member_required
from django.db.models import Prefetch
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.views.decorators.http import require_GET

from instances.cloud_elements import client as ce
from instances.events.models import EventNotification
from instances.events.remote import compare_events
from instances.forwarding.models import Attempt, Destination
from instances.lib.pages import page
from instances.models import ElementInstance


@require_GET
@staff_member_required
def detail(request: HttpRequest, uuid, event_id: int) -> HttpResponse:
    # Looked up through its instance: an event id under another instance's address is a 404.
    notification = get_object_or_404(
        EventNotification.objects.select_related("instance"), pk=event_id, instance__uuid=uuid
    )
    deliveries = list(
        notification.deliveries.select_related("destination")
        .prefetch_related(Prefetch("attempt_log", queryset=Attempt.objects.order_by("-number")))
        .order_by("destination__name", "pk")
    )
    sent_to = {delivery.destination_id for delivery in deliveries}
    context = {
        "title": f"Event notification {notification.pk}",
        "instance": notification.instance,
        "event": notification,
        "deliveries": deliveries,
        "other_destinations": [
            d for d in Destination.objects.filter(deleted_at__isnull=True) if d.pk not in sent_to
        ],
    }
    return page(request, "events/detail.html", context)


@require_GET
@staff_member_required
def remote(request: HttpRequest, uuid) -> HttpResponse:
    """Cloud Elements' event log for the instance, loaded only when asked for."""
    instance = get_object_or_404(
        ElementInstance, uuid=uuid, status=ElementInstance.Status.ACTIVE, remote_id__isnull=False
    )
    context = {"title": f"{instance.name}: Cloud Elements' events", "instance": instance}
    try:
        context["rows"] = compare_events(instance=instance)
    except ce.CloudElementsError as error:
        context["error"] = error.message
    return page(request, "events/remote.html", context)
