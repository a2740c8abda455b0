"""Keep pages with instance data out of browser and proxy caches."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.utils.cache import add_never_cache_headers


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
