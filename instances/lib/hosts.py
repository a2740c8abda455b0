"""One address for the dashboard: SITE_URL.

The OAuth callback, the webhook URLs and (in sandbox mode) the Cloud Elements API are all
SITE_URL. A browser on another loopback name of the same server (localhost instead of
127.0.0.1) has other cookies, and its forms may not redirect to SITE_URL's origin (CSP
form-action), so in development the dashboard sends it to SITE_URL first.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.http.request import split_domain_port
from django.template.loader import render_to_string
from django.utils.crypto import salted_hmac

LOOPBACK = frozenset({"localhost", "127.0.0.1", "[::1]"})
WILDCARD = frozenset({"0.0.0.0", "::", "[::]"})  # noqa: S104 (names, not a bind)
# Called by programs, not browsers: they carry no cookies and are never redirected.
MACHINE_PATHS = ("/webhooks/", "/sandbox/elements/", "/healthz")


def site_host_port() -> tuple[str, int]:
    """SITE_URL's host (IPv6 in brackets, lowercase) and port (scheme default if absent)."""
    parts = urlsplit(settings.SITE_URL)
    host = (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    return host, parts.port or (443 if parts.scheme == "https" else 80)


def listen_problem(addr: str, port: int | str) -> str:
    """Why a server listening on addr:port is not SITE_URL's server, or "" when it is."""
    site_host, site_port = site_host_port()
    addr = addr.lower()
    if ":" in addr and not addr.startswith("["):
        addr = f"[{addr}]"
    if int(port) != site_port:
        return f"port {port} is not SITE_URL's port {site_port}"
    if addr in WILDCARD or addr == site_host or {addr, site_host} <= LOOPBACK:
        return ""
    return f"address {addr} is not SITE_URL's host {site_host}"


def sandbox_proof(nonce: str) -> str:
    """What only a server holding this dashboard's keys answers to `nonce`.

    In sandbox mode the client asks SITE_URL for it before the first call that carries a
    secret, so that a different program listening there never receives one.
    """
    secret = settings.SECRET_KEY + settings.FIELD_ENCRYPTION_KEYS[0]
    return salted_hmac(
        "instances.sandbox.identity", nonce, secret=secret, algorithm="sha256"
    ).hexdigest()


class CanonicalHostMiddleware:
    """In development with the sandbox, browsers work on SITE_URL's host only."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if settings.DEBUG and settings.CLOUD_ELEMENTS_SANDBOX and self._other_alias(request):
            target = settings.SITE_URL + request.get_full_path()
            if request.method in {"GET", "HEAD"}:
                return HttpResponseRedirect(target)
            # A form posted from a page opened on the other name: say so, never half-work.
            body = render_to_string(
                "instances/other_host.html",
                {"site_url": settings.SITE_URL, "host": request.get_host()},
            )
            return HttpResponse(body, status=400)
        return self.get_response(request)

    @staticmethod
    def _other_alias(request: HttpRequest) -> bool:
        if request.path.startswith(MACHINE_PATHS):
            return False
        domain, port = split_domain_port(request.get_host())
        host = f"[{domain}]" if ":" in domain and not domain.startswith("[") else domain
        site_host, site_port = site_host_port()
        port = int(port) if port else (443 if request.is_secure() else 80)
        # Only another name of this same server; any other host is ALLOWED_HOSTS' business.
        return host != site_host and port == site_port and {host, site_host} <= LOOPBACK
