"""The instance page's Disable / Enable buttons."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.admin.views.decorators import staff_member_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.views.decorators.http import require_POST

from . import cloud_elements as ce
from . import enablement, services
from .models import ElementInstance
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
