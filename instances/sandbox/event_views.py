"""Cloud Elements' event endpoints: Dropbox's webhook URI and the instance event log."""

from __future__ import annotations

import json

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from . import api, delivery
from .models import SandboxEvent
from .views import _instance_or_404, platform_api

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 500
# Names the instances an event is for, as Cloud Elements' own tests send it.
INSTANCES_HEADER = "Element-Instances"
# The reference says list endpoints page with `pageSize` and `nextPage`, "with the next-page
# token in a response header" without naming it; this is the name Cloud Elements' APIs use.
NEXT_PAGE_HEADER = "Elements-Next-Page-Token"


@csrf_exempt
def dropbox_webhook(request: HttpRequest) -> HttpResponse:
    """Cloud Elements' `/events/dropbox`, the Webhook URI entered in the Dropbox console.

    Dropbox verifies the URI with `GET ?challenge=…` (echoed back) and then POSTs
    `{"list_folder": {"accounts": [...]}}`. No Cloud Elements `Authorization` is involved.
    """
    if request.method == "GET":
        challenge = request.GET.get("challenge", "")
        return HttpResponse(challenge, content_type="text/plain")
    if request.method != "POST":
        return api.error_response(405, f"Method {request.method} is not allowed.")
    named = request.headers.get(INSTANCES_HEADER)
    if named is not None:
        return _events_for_named_instances(request, named)
    try:
        body = json.loads(request.body)
        accounts = body["list_folder"]["accounts"]
        if not isinstance(accounts, list) or not all(isinstance(a, str) for a in accounts):
            raise TypeError
    except (ValueError, KeyError, TypeError):
        return api.error_response(400, "Expected Dropbox's {list_folder: {accounts: [...]}}.")
    delivery.receive_dropbox_notification(body)
    return HttpResponse(status=200)


def _events_for_named_instances(request: HttpRequest, named: str) -> HttpResponse:
    """How Cloud Elements' own tests raise events (churros `cloud.createEvents`): the header
    names the instances, and the body, any JSON object, is the provider's notification."""
    ids = [part.strip() for part in named.split(",")]
    if not all(part.isdecimal() for part in ids):
        return api.error_response(400, f"{INSTANCES_HEADER} must list instance ids: 12,34.")
    try:
        body = json.loads(request.body)
    except ValueError:
        body = None
    if not isinstance(body, dict):
        return api.error_response(400, "The body must be a JSON object.")
    delivery.receive_dropbox_notification(body, instance_ids=[int(i) for i in ids])
    return HttpResponse(status=200)


def event_json(event: SandboxEvent) -> dict:
    return {
        "id": event.id,
        "eventDate": event.event_date.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "status": event.status,
        "providerData": event.provider_data,
        "notifiedData": event.notified_data,
    }


def _page(request: HttpRequest, events) -> JsonResponse:
    try:
        size = int(request.GET.get("pageSize", DEFAULT_PAGE_SIZE))
        number = int(request.GET.get("nextPage") or 1)
    except ValueError:
        raise api.ApiError(400, "'pageSize' and 'nextPage' must be numbers.") from None
    if not 1 <= size <= MAX_PAGE_SIZE or number < 1:
        raise api.ApiError(400, f"'pageSize' must be 1 to {MAX_PAGE_SIZE}.")
    page = Paginator(events, size).get_page(number)
    rows = [event_json(e) for e in page] if page.number == number else []
    response = JsonResponse(rows, safe=False)
    if rows and page.has_next():
        response[NEXT_PAGE_HEADER] = str(page.next_page_number())
    return response


@platform_api("GET")
def account_events(request: HttpRequest) -> HttpResponse:
    return _page(request, SandboxEvent.objects.all())


@platform_api("GET")
def instance_events(request: HttpRequest, instance_id: int) -> HttpResponse:
    return _page(request, _instance_or_404(instance_id).events.all())


@platform_api("GET")
def event(request: HttpRequest, event_id: int, instance_id: int | None = None) -> HttpResponse:
    found = SandboxEvent.objects.filter(pk=event_id)
    if instance_id is not None:
        found = found.filter(instance=_instance_or_404(instance_id))
    if not (one := found.first()):
        raise api.ApiError(404, f"No event found with id {event_id}.")
    return JsonResponse(event_json(one))
