"""Consent links: the operator's pages, and the account owner's pages (no login).

The owner's pages never link to an operator page, send no Referer (the token is in their
address), cannot be framed (X-Frame-Options and CSP frame-ancestors, set globally) and are
rate-limited per client address in Django's cache.
"""

from __future__ import annotations

import time
from functools import wraps

from django.conf import settings
from django.contrib import messages
from django.contrib.admin.views.decorators import staff_member_required
from django.core.cache import cache
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.middleware.csrf import CsrfViewMiddleware
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.decorators import decorator_from_middleware
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from instances.accounts.throttle import client_address
from instances.cloud_elements import client as ce
from instances.elements.services import element_name
from instances.lib.pages import can_change, page, post_or_back
from instances.links import services as links
from instances.links.forms import ConsentLinkForm
from instances.links.models import ConsentLink
from instances.models import ElementInstance
from instances.oauth import StateError
from instances.services import ActionError

RESULT_KEY = "consent_link_result"
# The link just made, which its page shows again on a reload (for this long).
MADE_KEY = "consent_link_made"
MADE_SECONDS = 10 * 60
ASK_AGAIN = "A consent link is shown only when you ask for it: choose “Copy link again”."

# --- The operator's side ---------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@staff_member_required
@can_change
def send(request: HttpRequest, uuid) -> HttpResponse:
    """POST: make a link, then show it at this address, where a reload shows it again."""
    instance = get_object_or_404(ElementInstance, uuid=uuid)
    if request.method == "GET":
        return _show_made_link(request, instance)
    form = ConsentLinkForm(request.POST, prefix="link")
    if not form.is_valid():
        problems = "; ".join(e for errors in form.errors.values() for e in errors)
        messages.error(request, f"No link was made. {problems}")
        return redirect(instance)
    return show_new_link(request, instance, form)


def show_new_link(request: HttpRequest, instance: ElementInstance, form) -> HttpResponse:
    try:
        links.make_link(instance=instance, actor=request.user, **form.cleaned_data)
    except ActionError as error:
        messages.error(request, error.message)
        return redirect(instance)
    # Shown by the GET that follows, to this browser only, for a while: the link is a
    # credential, and only whoever made it should see it there without asking again.
    request.session[MADE_KEY] = {
        "instance": str(instance.uuid),
        "until": time.time() + MADE_SECONDS,
    }
    return redirect("links:send", uuid=instance.uuid)


def _show_made_link(request: HttpRequest, instance: ElementInstance) -> HttpResponse:
    made = request.session.get(MADE_KEY) or {}
    if made.get("instance") != str(instance.uuid) or made.get("until", 0) < time.time():
        messages.info(request, ASK_AGAIN)
        return redirect(instance)
    link = links.live_link(instance)
    if link is None:
        messages.info(request, "That link was used, revoked or has expired.")
        return redirect(instance)
    return _show(request, link, made=True)


@never_cache
@staff_member_required
@can_change
@post_or_back(ASK_AGAIN)
def copy(request: HttpRequest, uuid) -> HttpResponse:
    instance = get_object_or_404(ElementInstance, uuid=uuid)
    link = links.live_link(instance)
    as_json = request.headers.get("Accept") == "application/json"  # the page's Copy script
    if link is None:
        problem = "This instance has no usable consent link; make a new one."
        if as_json:
            return JsonResponse({"error": problem}, status=404)
        messages.error(request, problem)
        return redirect(instance)
    if as_json:
        return _no_store(JsonResponse({"url": link.get_absolute_url()}))
    return _show(request, link, made=False)


@require_POST
@staff_member_required
@can_change
def revoke(request: HttpRequest, uuid) -> HttpResponse:
    instance = get_object_or_404(ElementInstance, uuid=uuid)
    link = instance.consent_links.open().first()
    try:
        if link is None:
            raise ActionError("This instance has no consent link to revoke.")
        links.revoke_link(link=link, actor=request.user)
    except ActionError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, "The consent link was revoked: it now answers “withdrawn”.")
    return redirect(instance)


def _show(request: HttpRequest, link: ConsentLink, *, made: bool) -> HttpResponse:
    context = {
        "title": "Consent link",
        "instance": link.instance,
        "link": link,
        "made": made,
        "provider": element_name(link.instance.element_key),
    }
    return _no_store(page(request, "links/send.html", context))


def _no_store(response: HttpResponse) -> HttpResponse:
    # The link is a credential: never cached, never sent on as a Referer.
    response["Cache-Control"] = "no-store"
    response["Referrer-Policy"] = "no-referrer"
    return response


# --- The account owner's side ----------------------------------------------------------------


def owner_page(view):
    """No Referer, no caching, and a 429 page for a client that asks too often."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if _over_limit(request):
            response = _owner(
                request,
                "links/connect/problem.html",
                {
                    "title": "Too many requests",
                    "message": "Too many requests came from your address. Wait a minute, "
                    "then open the link again.",
                },
                status=429,
            )
            response["Retry-After"] = "60"
        else:
            response = view(request, *args, **kwargs)
        response["Referrer-Policy"] = "no-referrer"
        response["Cache-Control"] = "no-store"
        return response

    return wrapper


def _over_limit(request: HttpRequest) -> bool:
    key = f"consent-link-rate:{client_address(request)}"
    cache.add(key, 0, timeout=60)
    try:
        count = cache.incr(key)
    except ValueError:
        # Expired between add and incr.
        cache.set(key, 1, timeout=60)
        count = 1
    return count > settings.CONSENT_LINK_RATE_LIMIT


def _owner(request: HttpRequest, template: str, context: dict, status: int = 200) -> HttpResponse:
    context = {"organization": settings.CONSENT_ORGANIZATION_NAME, **context}
    return render(request, template, context, status=status)


def _gone(request: HttpRequest, error: links.LinkGone | StateError) -> HttpResponse:
    context = {"title": "This link cannot be used", "message": error.message}
    if getattr(error, "reason", "") in {"used", "done"}:
        context["title"] = "Nothing left to do"
    if isinstance(error, StateError):
        context["title"] = "This sign-in cannot be used"
        context["hint"] = "Nothing was connected. Open the link you were sent again to start over."
    return _owner(request, "links/connect/problem.html", context, status=error.status)


class _NoReferrerCsrf(CsrfViewMiddleware):
    """CSRF protection for a page served with `Referrer-Policy: no-referrer`.

    Browsers send `Origin: null` on the forms of such a page, which Django's origin check
    refuses. The token check (form field against cookie) is kept, and is what protects.
    """

    def _origin_verified(self, request: HttpRequest) -> bool:
        return request.META.get("HTTP_ORIGIN") == "null" or super()._origin_verified(request)


no_referrer_csrf_protect = decorator_from_middleware(_NoReferrerCsrf)


@owner_page
@csrf_exempt  # from the global middleware only: no_referrer_csrf_protect checks instead
@no_referrer_csrf_protect
@require_http_methods(["GET", "POST"])
def connect(request: HttpRequest, token: str) -> HttpResponse:
    try:
        link = links.find_link(token)
    except links.LinkGone as error:
        return _gone(request, error)
    if request.method == "GET":
        links.open_link(link)
        provider = element_name(link.instance.element_key)
        context = {
            "title": f"Connect your {provider}",
            "link": link,
            "instance": link.instance,
            "provider": provider,
        }
        return _owner(request, "links/connect/start.html", context)
    # Anonymous sessions are saved only when they hold something: this one holds which link
    # it opened, and its key is what the OAuth state is bound to.
    request.session["consent_link"] = link.pk
    if not request.session.session_key:
        request.session.save()
    try:
        url = links.start(link=link, session_key=request.session.session_key)
    except links.LinkGone as error:
        return _gone(request, error)
    except ce.CloudElementsError:
        context = {
            "title": f"{element_name(link.instance.element_key)} cannot be reached right now",
            "message": "Nothing was connected. Try again in a few minutes with the same link.",
        }
        return _owner(request, "links/connect/problem.html", context, status=502)
    return HttpResponseRedirect(url)


@never_cache
@owner_page
def link_callback(request: HttpRequest) -> HttpResponse:
    """The OAuth callback for a state issued from a link: no login; never an operator page."""
    try:
        outcome = links.complete(
            state=request.GET.get("state", ""),
            session_key=request.session.session_key or "",
            params=request.GET.dict(),
        )
    except (links.LinkGone, StateError) as error:
        return _gone(request, error)
    link = outcome.link
    target = link.success_url if outcome.result == "connected" else link.error_url
    if target and outcome.result in {"connected", "refused"}:
        return HttpResponseRedirect(target)
    # Post/redirect/get: the code and state leave the address bar.
    request.session[RESULT_KEY] = {
        "result": outcome.result,
        "name": outcome.instance.name,
        "provider": element_name(outcome.instance.element_key),
        "link": link.pk,
    }
    return redirect("links:result")


@owner_page
def result(request: HttpRequest) -> HttpResponse:
    outcome = request.session.get(RESULT_KEY)
    if not outcome:
        raise Http404("No consent was completed in this browser.")
    context = {"provider": "Dropbox", **outcome}  # a result saved before providers were named
    context["title"] = context["provider"]
    if outcome["result"] in {"refused", "failed"}:
        # The link stays usable until it expires: the owner may change their mind.
        context["retry"] = ConsentLink.objects.live().filter(pk=outcome["link"]).first()
    return _owner(request, "links/connect/result.html", context)
