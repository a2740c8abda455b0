"""What acts besides the signed-in user (an API token, a job), for the history to name.

Set for the current request or job with `acting(...)` (or `bind` within a request, which the
middleware resets); `AuditEntry.via` takes `current()` as its default, so every entry written
meanwhile, one at a time or in bulk, names it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_via: ContextVar[str] = ContextVar("audit_via", default="")


def current() -> str:
    return _via.get()


def bind(via: str) -> None:
    """For the rest of this request (the middleware resets it)."""
    _via.set(via[:200])


@contextmanager
def acting(via: str) -> Iterator[None]:
    token = _via.set(via[:200])
    try:
        yield
    finally:
        _via.reset(token)


class AuditContextMiddleware:
    """Every request starts with nobody acting but its user, and leaves nothing behind for the
    next request the same thread serves."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request):
        with acting(""):
            return self.get_response(request)
