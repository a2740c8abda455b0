"""Sudo mode: the password is asked again before a secret is shown, then not for a while.

The confirmation lives in the session, like GitHub's: a stolen session cookie alone does not
reveal secrets, and failures are counted in the same session (and reported to Django's
authentication signals through `authenticate`, so a lockout app such as django-axes sees them).
"""

from __future__ import annotations

import logging
import time

from django.conf import settings
from django.contrib.auth import authenticate
from django.http import HttpRequest, HttpResponse
from django.views.decorators.debug import sensitive_variables

from instances.lib.pages import page

security_log = logging.getLogger("instances.security")

CONFIRMED_AT = "sudo_confirmed_at"
FAILURES = "sudo_failures"
MAX_FAILURES = 5
FAILURE_MEMORY_SECONDS = 15 * 60


class SudoError(Exception):
    """The password was not confirmed; `.status` is the HTTP answer."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


def is_confirmed(request: HttpRequest) -> bool:
    """Whether this session confirmed the password within SUDO_WINDOW_SECONDS."""
    confirmed_at = request.session.get(CONFIRMED_AT)
    if not isinstance(confirmed_at, int | float):
        return False
    return 0 <= time.time() - confirmed_at < settings.SUDO_WINDOW_SECONDS


def _recent_failures(request: HttpRequest) -> list[float]:
    now = time.time()
    stored = request.session.get(FAILURES, [])
    return [t for t in stored if isinstance(t, int | float) and now - t < FAILURE_MEMORY_SECONDS]


@sensitive_variables("password")
def confirm_password(request: HttpRequest, password: str) -> None:
    """Check the signed-in user's password; raise SudoError when it is not confirmed."""
    failures = _recent_failures(request)
    if len(failures) >= MAX_FAILURES:
        raise SudoError(
            "Too many wrong passwords. Wait 15 minutes, or sign out and sign in again.", 429
        )
    if not password:
        raise SudoError("Enter your password.", 400)
    user = authenticate(request, username=request.user.get_username(), password=password)
    if user is None or user.pk != request.user.pk:
        request.session[FAILURES] = [*failures, time.time()]
        security_log.warning("sudo password confirmation failed for user id %s", request.user.pk)
        raise SudoError("That is not your password.", 403)
    request.session.pop(FAILURES, None)
    request.session[CONFIRMED_AT] = time.time()


def password_page(
    request: HttpRequest, *, secret: str, action: str, back: tuple[str, str], crumbs: list
) -> HttpResponse | None:
    """The page that asks for the password before `secret` (“the signing secret of “X””) is
    shown, or None when this session is confirmed (the password posted now counts). `back` is
    (name, url) of what the secret belongs to; `crumbs` the (name, url) pairs before it."""
    if is_confirmed(request):
        return None
    context = {
        "title": "Confirm your password",
        "secret": secret,
        "action": action,
        "back": back,
        "crumbs": [*crumbs, back],
        "error": "",
    }
    if "password" not in request.POST:
        return page(request, "accounts/confirm_password.html", context)
    try:
        confirm_password(request, request.POST["password"])
    except SudoError as error:
        context["error"] = error.message
        return page(request, "accounts/confirm_password.html", context, error.status)
    return None
