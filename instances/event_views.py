"""One received event notification, as a page of the dashboard."""

from __future__ import annotations

from django.contrib.admin.views.decorators import staff_member_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.views.decorators.http import require_GET

from .models import EventNotification
from .pages import page


@require_GET
@staff_member_required
def event(request: HttpRequest, uuid, event_id: int) -> HttpResponse:
    # Looked up through its instance: an event id under another instance's address is a 404.
    notification = get_object_or_404(
        EventNotification.objects.select_related("instance"), pk=event_id, instance__uuid=uuid
    )
    context = {
        "title": f"Event notification {notification.pk}",
        "instance": notification.instance,
        "event": notification,
    }
    return page(request, "instances/event.html", context)
