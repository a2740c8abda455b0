"""The instance page's Disable / Enable buttons and its Cloud Elements event log."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.admin.views.decorators import staff_member_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.views.decorators.http import require_GET, require_POST

from . import cloud_elements as ce
from . import enablement, services
from .models import ElementInstance
from .pages import page
from .remote_events import compare_events
from .views import can_change


@require_POST
@staff_member_required
@can_change
def set_enabled(request: HttpRequest, uuid) -> HttpResponse:
    instance = get_object_or_404(ElementInstance, uuid=uuid)
    enabled = request.POST.get("enabled") == "on"
    try:
        enablement.set_enabled(instance=instance, enabled=enabled, actor=request.user)
    except (ce.CloudElementsError, services.ActionError) as error:
        messages.error(request, enablement.error_message(instance, error, enabled=enabled))
    else:
        state = "disabled" if instance.remote_disabled else "enabled"
        messages.success(request, f"{instance.name}: {state} at Cloud Elements.")
    return redirect(instance)


@require_GET
@staff_member_required
def remote_events(request: HttpRequest, uuid) -> HttpResponse:
    """Cloud Elements' event log for the instance, loaded only when asked for."""
    instance = get_object_or_404(
        ElementInstance, uuid=uuid, status=ElementInstance.Status.ACTIVE, remote_id__isnull=False
    )
    context = {"title": f"{instance.name}: Cloud Elements' events", "instance": instance}
    try:
        context["rows"] = compare_events(instance=instance)
    except ce.CloudElementsError as error:
        context["error"] = error.message
    return page(request, "instances/remote_events.html", context)
