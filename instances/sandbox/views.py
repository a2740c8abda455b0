"""The sandbox's HTTP face: Cloud Elements' platform API and Dropbox's consent screen.

The API views are CSRF-exempt because they stand in for a remote JSON API called by servers,
authenticated by the `Authorization` header; the consent page is an ordinary protected form.
"""

from __future__ import annotations

import json
from functools import wraps
from urllib.parse import urlencode, urlsplit, urlunsplit

from django.contrib import messages
from django.contrib.admin.views.decorators import staff_member_required
from django.contrib.auth.decorators import permission_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from instances.lib.hosts import sandbox_proof
from instances.parameters import OAUTH2

from . import api, catalog, delivery
from .models import SandboxApp, SandboxAuthCode, SandboxInstance

DENIED_DESCRIPTION = "The user chose not to give your app access to their {} account."


def platform_api(*methods: str, organization: bool = True):
    """Allow `methods`, check the `Authorization` header, answer errors in the documented JSON.

    The parsed header parts are left on `request.ce_auth` for views that need the Element token.
    """

    def decorator(view):
        @csrf_exempt
        @wraps(view)
        def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            if request.method not in methods:
                response = api.error_response(405, f"Method {request.method} is not allowed.")
                response["Allow"] = ", ".join(methods)
                return response
            try:
                request.ce_auth = api.check_authorization(
                    request.headers.get("Authorization", ""), organization=organization
                )
                return view(request, *args, **kwargs)
            except api.ApiError as error:
                return error.response()

        return wrapper

    return decorator


def _json_body(request: HttpRequest) -> object:
    try:
        return json.loads(request.body or b"null")
    except (ValueError, UnicodeDecodeError):
        raise api.ApiError(400, "The request body is not valid JSON.") from None


def _instance_or_404(instance_id: int) -> SandboxInstance:
    instance = SandboxInstance.objects.filter(pk=instance_id).first()
    if instance is None:
        raise api.ApiError(404, f"No element instance found with id {instance_id}.")
    return instance


@require_GET
def identity(request: HttpRequest) -> HttpResponse:
    """Prove to the dashboard's client that SITE_URL is this very server (no secret needed)."""
    nonce = request.GET.get("nonce", "")
    if not 16 <= len(nonce) <= 100:
        return JsonResponse({"message": "nonce must be 16 to 100 characters."}, status=400)
    return JsonResponse({"proof": sandbox_proof(nonce)})


@platform_api("GET")
def elements(request: HttpRequest) -> HttpResponse:
    """`GET /elements`: the catalog, each element without its configuration."""
    return JsonResponse([catalog.summary(e) for e in catalog.ELEMENTS.values()], safe=False)


def _catalog_key(key_or_id: str) -> str:
    key = api.element_key_or_404(key_or_id)
    if key not in catalog.ELEMENTS:
        raise api.ApiError(404, f"No element found with key or id '{key_or_id}'.")
    return key


@platform_api("GET")
def element(request: HttpRequest, key: str) -> HttpResponse:
    """`GET /elements/{keyOrId}`: the element with its configuration entries."""
    return JsonResponse(catalog.element(_catalog_key(key)))


@platform_api("GET")
def element_metadata(request: HttpRequest, key: str) -> HttpResponse:
    """`GET /elements/{keyOrId}/metadata`: whether and how the element sends events."""
    return JsonResponse(catalog.metadata(_catalog_key(key)))


@platform_api("GET")
def oauth_url(request: HttpRequest, key: str) -> HttpResponse:
    key = api.element_key_or_404(key)
    if OAUTH2 not in api.offered_authentication(key):
        raise api.ApiError(400, f"Element '{key}' does not use OAuth2: it needs no consent.")
    params = {name: request.GET.get(name, "") for name in ("apiKey", "apiSecret", "callbackUrl")}
    missing = [name for name, value in params.items() if not value]
    if missing:
        raise api.ApiError(400, f"Missing required query parameter(s): {', '.join(missing)}.")
    api.register_app(
        client_id=params["apiKey"],
        client_secret=params["apiSecret"],
        redirect_uri=params["callbackUrl"],
    )
    query = urlencode(
        {
            "response_type": "code",
            "client_id": params["apiKey"],
            "redirect_uri": params["callbackUrl"],
            # `state` is "a customizable identifier" (section 3): passed on only when given.
            **({"state": request.GET["state"]} if "state" in request.GET else {}),
        }
    )
    consent = request.build_absolute_uri(reverse("sandbox:authorize", args=[key])) + "?" + query
    return JsonResponse({"element": key, "oauthUrl": consent})


def _listing(request: HttpRequest, element_key: str | None = None) -> HttpResponse:
    """A plain array of every instance; with `pageSize`, one page and the next one's token in
    `Elements-Next-Page-Token` (absent on the last page); `hydrate=false` gives light objects."""
    light = request.GET.get("hydrate", "").lower() == "false"
    found = SandboxInstance.objects.order_by("id")
    if element_key:
        found = found.filter(element_key=element_key)
    page_size = request.GET.get("pageSize")
    if page_size is not None:
        size = api.page_size(page_size)
        found = found.filter(id__gt=api.page_after(request.GET.get("nextPage", "")))[: size + 1]
    rows = api.light_rows(found) if light else list(found)
    next_token = ""
    if page_size is not None and len(rows) > size:
        rows = rows[:size]
        next_token = api.page_token(rows[-1].id)
    wanted_tags = request.GET.getlist("tags[]")
    search = request.GET.get("searchText", "").lower()

    def wanted(row) -> bool:
        tags = json.loads(row.tags) if light and wanted_tags else getattr(row, "tags", [])
        return all(tag in tags for tag in wanted_tags) and (
            not search or search in row.name.lower() or search in row.element_key
        )

    if light:
        body = "[" + ",".join(api.light_text(row) for row in rows if wanted(row)) + "]"
        response = HttpResponse(body, content_type="application/json")
    else:
        answer = [api.instance_json(row) for row in rows if wanted(row)]
        response = JsonResponse(answer, safe=False)
    if next_token:
        response[api.NEXT_PAGE_HEADER] = next_token
    return response


@platform_api("GET", "POST", "PATCH")
def instances(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        instance = api.create(_json_body(request))
        return JsonResponse(api.instance_json(instance))
    if request.method == "PATCH":
        # The instance-token form: the instance comes from the `Element <token>` part.
        found = api.instance_for_token(request.ce_auth)
        found = api.update(found, _json_body(request), replace=False)
        return JsonResponse(api.instance_json(found))
    return _listing(request)


@platform_api("GET", "POST")
def element_instances(request: HttpRequest, key: str) -> HttpResponse:
    key = api.element_key_or_404(key)
    if request.method == "GET":
        return _listing(request, key)
    instance = api.create(_json_body(request), element_key=key)
    return JsonResponse(api.instance_json(instance))


def _instance_response(request: HttpRequest, found: SandboxInstance) -> HttpResponse:
    if request.method == "DELETE":
        found.delete()
        return HttpResponse(status=200)
    if request.method in {"PATCH", "PUT"}:
        found = api.update(found, _json_body(request), replace=request.method == "PUT")
    return JsonResponse(api.instance_json(found))


@platform_api("GET", "PATCH", "PUT", "DELETE")
def instance(request: HttpRequest, instance_id: int) -> HttpResponse:
    return _instance_response(request, _instance_or_404(instance_id))


@platform_api("GET", "PATCH", "PUT", "DELETE")
def element_instance(request: HttpRequest, key: str, instance_id: int) -> HttpResponse:
    key = api.element_key_or_404(key)
    found = _instance_or_404(instance_id)
    if found.element_key != key:
        raise api.ApiError(404, f"No {key} instance found with id {instance_id}.")
    return _instance_response(request, found)


@platform_api("GET")
def configuration(request: HttpRequest, instance_id: int) -> HttpResponse:
    return JsonResponse(api.configuration_json(_instance_or_404(instance_id)), safe=False)


def _entry_response(request: HttpRequest, found: SandboxInstance, entry_id: int) -> HttpResponse:
    if request.method == "PATCH":
        entry = api.update_configuration_entry(found, entry_id, _json_body(request))
    else:
        entry = api.configuration_entry(found, entry_id)
    return JsonResponse(entry)


@platform_api("GET", "PATCH")
def configuration_entry(request: HttpRequest, instance_id: int, entry_id: int) -> HttpResponse:
    return _entry_response(request, _instance_or_404(instance_id), entry_id)


@platform_api("GET")
def token_configuration(request: HttpRequest) -> HttpResponse:
    found = api.instance_for_token(request.ce_auth)
    return JsonResponse(api.configuration_json(found), safe=False)


@platform_api("GET", "PATCH")
def token_configuration_entry(request: HttpRequest, entry_id: int) -> HttpResponse:
    return _entry_response(request, api.instance_for_token(request.ce_auth), entry_id)


def _set_enabled(request: HttpRequest, found: SandboxInstance) -> HttpResponse:
    # PUT enables, DELETE disables; configuration and token are kept either way.
    found.disabled = request.method == "DELETE"
    found.save(update_fields=["disabled"])
    return JsonResponse(api.instance_json(found))


@platform_api("PUT", "DELETE")
def enabled(request: HttpRequest, instance_id: int) -> HttpResponse:
    return _set_enabled(request, _instance_or_404(instance_id))


@platform_api("PUT", "DELETE")
def token_enabled(request: HttpRequest) -> HttpResponse:
    return _set_enabled(request, api.instance_for_token(request.ce_auth))


@platform_api("GET", "POST", "PATCH", "PUT", "DELETE")
def not_found(request: HttpRequest, rest: str) -> HttpResponse:
    raise api.ApiError(404, "No such resource.")


@require_http_methods(["GET", "POST"])
def authorize(request: HttpRequest, key: str) -> HttpResponse:
    """The provider's consent screen (Dropbox's, Box's…): Allow issues a single-use code, Deny
    reports access_denied."""
    provider = api.ELEMENTS.get(key, {}).get("name", "")
    source = request.POST if request.method == "POST" else request.GET
    client_id = source.get("client_id", "")
    redirect_uri = source.get("redirect_uri", "")
    state = source.get("state", "")
    app = SandboxApp.objects.filter(client_id=client_id).first()
    problem = ""
    if not provider:
        problem = f"No provider is known as '{key}'."
    elif source.get("response_type") != "code":
        problem = "response_type must be 'code'."
    elif app is None:
        problem = "Invalid client_id: no app is registered with this App key."
    elif redirect_uri not in app.redirect_uris:
        # Never redirect to an unregistered URI: that would be an open redirect.
        problem = "Invalid redirect_uri: it must match a Redirect URI registered for the app."
    if problem:
        context = {"problem": problem, "provider": provider or key}
        return render(request, "sandbox/authorize_error.html", context, status=400)
    if request.method == "GET":
        context = {
            "app": app,
            "redirect_uri": redirect_uri,
            "state": state,
            "provider": provider,
            "key": key,
        }
        return render(request, "sandbox/authorize.html", context)
    if request.POST.get("decision") == "allow":
        issued = SandboxAuthCode.issue(app=app, redirect_uri=redirect_uri)
        params = {"code": issued.code, "state": state}
    else:
        params = {
            "error": "access_denied",
            "error_description": DENIED_DESCRIPTION.format(provider),
            "state": state,
        }
    return HttpResponseRedirect(_with_query(redirect_uri, params))


def _with_query(url: str, params: dict[str, str]) -> str:
    parts = urlsplit(url)
    query = "&".join(filter(None, [parts.query, urlencode(params)]))
    return urlunsplit(parts._replace(query=query))


@require_POST
@staff_member_required
@permission_required("instances.change_elementinstance", raise_exception=True)
def simulate(request: HttpRequest, instance_id: int) -> HttpResponse:
    """Stand in for a change in the connected Dropbox.

    It goes the documented way: Dropbox posts to Cloud Elements' `/events/dropbox`, which
    records an event per instance and notifies the callback (see delivery.py).
    """
    instance = get_object_or_404(SandboxInstance, pk=instance_id)
    event_type = request.POST.get("event_type", "")
    path = request.POST.get("path", "").strip() or "/"
    if event_type not in delivery.EVENT_TYPES:
        messages.error(request, "Choose a change: created, updated or deleted.")
    else:
        sent = delivery.deliver_change(instance, event_type=event_type, path=path)
        if sent is None:
            # Nothing happened: a warning, not a success.
            reason = "This instance is disabled" if instance.disabled else "Events are disabled"
            messages.warning(request, f"{reason}, so nothing was delivered.")
        elif sent.status_code and 200 <= sent.status_code < 300:
            messages.success(
                request, f"Delivered {event_type} {path}; the callback answered {sent.status_code}."
            )
        else:
            outcome = sent.status_code or sent.error
            messages.error(request, f"Delivery of {event_type} {path} failed: {outcome}.")
    target = request.POST.get("next", "")
    if url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure()):
        return HttpResponseRedirect(target)
    return HttpResponseRedirect(reverse("instances:index"))
