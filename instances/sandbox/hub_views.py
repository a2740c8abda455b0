"""A minimal element-instance (hub) API: enough to show what an instance token opens."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse

from . import api
from .views import platform_api

HUBS = {"documents"}


@platform_api("GET", organization=False)
def hub(request: HttpRequest, hub_key: str, rest: str) -> HttpResponse:
    """Answer any documents-hub read with an empty listing, as for an empty Dropbox.

    Documented behaviour (section 2 and section 4 "Errors"): `User …, Element <token>`; the
    `elements-element-instance-id` response header; 401 for a deleted instance's token; 403
    for a disabled instance.
    """
    found = api.instance_for_token(request.ce_auth)
    if found.disabled:
        raise api.ApiError(403, f"Element instance {found.id} is disabled.")
    if hub_key not in HUBS:
        raise api.ApiError(404, f"No hub '{hub_key}'.")
    response = JsonResponse([], safe=False)
    response["Elements-Element-Instance-Id"] = str(found.id)
    return response
