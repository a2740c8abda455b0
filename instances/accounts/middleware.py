"""Keep a signed-in user who owes a second factor away from every page but the few that help."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import resolve_url
from django.utils.http import urlencode

from . import two_factor

# Pages that must stay reachable without a verified second factor: the two-factor pages
# themselves, logging in and out, and what is not a page for the dashboard's users (static
# files, the health check, the webhook receiver Cloud Elements posts to, and of the sandbox
# standing in for it only its platform API, its identity proof and the providers' consent
# screens: its dashboard actions, such as simulating an event, are the operator's and need it).
EXEMPT_PREFIXES = (
    "/account/two-factor/",
    "/admin/login/",
    "/admin/logout/",
    "/healthz",
    "/webhooks/",
    "/sandbox/elements/api-v2/",
    "/sandbox/identity",
    "/sandbox/providers/",
)


class TwoFactorMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.redirect_for(request) or self.get_response(request)

    def redirect_for(self, request: HttpRequest) -> HttpResponse | None:
        path = request.path_info
        static = "/" + settings.STATIC_URL.lstrip("/")
        if path.startswith(static) or path.startswith(EXEMPT_PREFIXES):
            return None
        user = request.user
        if not user.is_authenticated or user.is_verified():
            return None
        # An enrolled user whose session has no verified code (e.g. one that was signed in
        # before the authenticator was added) gives a code first.
        if two_factor.has_authenticator(user):
            return _to("accounts:verify", request)
        if settings.REQUIRE_TWO_FACTOR and user.is_staff:
            return _to("accounts:two_factor", request)
        return None


def _to(url_name: str, request: HttpRequest) -> HttpResponse:
    next_url = request.get_full_path() if request.method == "GET" else "/"
    return HttpResponseRedirect(f"{resolve_url(url_name)}?{urlencode({'next': next_url})}")
