"""Reading elements' descriptions again on request (the new-instance page's Refresh)."""

from __future__ import annotations

import re

from django.contrib import messages
from django.contrib.admin.views.decorators import staff_member_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.http import require_POST

from instances.elements import services
from instances.lib.pages import can_add


@require_POST
@staff_member_required
@can_add
def refresh(request: HttpRequest) -> HttpResponse:
    """Read the list of elements and the chosen element's description from Cloud Elements."""
    key = request.POST.get("element", "")
    if key and not re.fullmatch(services.ELEMENT_KEY, key):
        messages.error(request, f"“{key}” is not an element key.")
        return HttpResponseRedirect(reverse("instances:new"))
    try:
        services.read_again(key)
    except services.ElementUnavailable as error:
        messages.error(request, error.message)
    else:
        read = (
            f"the list of elements and {services.element_name(key)}'s parameters"
            if key
            else "the list of elements"
        )
        messages.success(request, f"Read {read} again from Cloud Elements.")
    query = urlencode({"element": key}) if key else ""
    return HttpResponseRedirect(reverse("instances:new") + (f"?{query}" if query else ""))
