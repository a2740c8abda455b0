"""Keep pages with instance data out of browser and proxy caches; the policy header's cost."""

from __future__ import annotations

from collections.abc import Callable

from csp.middleware import CSPMiddleware
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils.cache import add_never_cache_headers


class ContentSecurityPolicyMiddleware(CSPMiddleware):
    """django-csp's middleware, minus its work for answers exempted from the policy.

    django-csp 4 builds the policy string for every answer, exempt or not, before it looks at
    the exemption: about a tenth of the receiver's CPU per delivery, for a header its JSON
    answers do not carry. An exempt answer is returned as it is.
    """

    def process_response(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        report_only = getattr(settings, "CONTENT_SECURITY_POLICY_REPORT_ONLY", None)
        if getattr(response, "_csp_exempt", False) and not report_only:
            return response
        return super().process_response(request, response)


class NoStoreForSignedInMiddleware:
    """Mark every answer to a signed-in user `Cache-Control: no-store, private` (and the rest
    of Django's never_cache set), unless the view chose its own Cache-Control.

    One place instead of a decorator per view, so that pages added later are covered too: a
    dashboard page holds instance names, ids, masked secrets and event bodies, which must not
    stay in a shared proxy or in the browser's cache after the operator signs out.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and not response.has_header("Cache-Control"):
            add_never_cache_headers(response)
        return response
