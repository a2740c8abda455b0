"""Login throttling with django-axes: who the client is, and what a locked-out client sees."""

from __future__ import annotations

from django.conf import settings
from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


def client_address(request: HttpRequest) -> str:
    """Return the client's address: REMOTE_ADDR, or X-Forwarded-For behind trusted proxies."""
    proxies = settings.TRUSTED_PROXY_COUNT
    remote_addr = request.META.get("REMOTE_ADDR", "")
    if not proxies:
        return remote_addr
    # Each trusted proxy appends the address it received the request from, so the N-th entry
    # from the right is the client as the outermost trusted proxy saw it; whatever lies further
    # left was sent by the client itself and proves nothing.
    forwarded = [a.strip() for a in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    forwarded = [a for a in forwarded if a]
    if len(forwarded) < proxies:
        # Fewer entries than proxies: a request that did not come through all of them.
        return remote_addr
    return forwarded[-proxies]


def locked_out(
    request: HttpRequest, original_response: HttpResponse | None, credentials: dict | None
) -> HttpResponse:
    """Render the lock-out page in the admin's look, answering 429 Too Many Requests."""
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    context = {
        **admin.site.each_context(request),
        "title": "Too many failed log-ins",
        "failure_limit": settings.AXES_FAILURE_LIMIT,
        "minutes": minutes,
    }
    return render(request, "accounts/locked_out.html", context, status=429)
