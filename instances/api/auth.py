"""Who calls the API and what they may do: a bearer token, its scopes, its user's permissions,
and its rate limit. Refusals are exceptions that `urls.py` turns into JSON answers."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest
from ninja.security import HttpBearer

from instances.accounts.throttle import client_address
from instances.api import tokens
from instances.api.models import ApiToken
from instances.lib import audit_context

READ = ApiToken.Scope.READ
WRITE = ApiToken.Scope.WRITE
# What each scope needs the token's user to be allowed, besides being staff.
PERMISSIONS = {
    READ: "instances.view_elementinstance",
    WRITE: "instances.change_elementinstance",
}


class ApiError(Exception):
    """An answer other than 2xx: `status`, a sentence, and per-field errors when any."""

    def __init__(self, status: int, message: str, fields: dict | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.fields = fields or {}


class RateLimited(ApiError):
    def __init__(self, retry_after: int) -> None:
        super().__init__(429, f"Too many requests for this token; retry in {retry_after} s.")
        self.retry_after = retry_after


class TokenAuth(HttpBearer):
    """`Authorization: Bearer ced_…`: the token's user becomes the request's user, and the
    history of whatever it changes names the token."""

    def authenticate(self, request: HttpRequest, token: str) -> ApiToken | None:
        found = tokens.authenticate(token, client_address(request))
        if found is None:
            return None
        wait = tokens.over_limit(found, settings.API_RATE_LIMIT_PER_MINUTE)
        if wait:
            raise RateLimited(wait)
        request.user = found.user
        audit_context.bind(found.label)
        return found


def require(request: HttpRequest, scope: str, permission: str | None = None) -> None:
    """403 unless the token has `scope` and its user the permission the scope needs (a
    view-only user's write token cannot write)."""
    token: ApiToken = request.auth
    if not token.allows(scope):
        raise ApiError(403, f"This token has no “{scope}” scope.")
    needed = permission or PERMISSIONS[scope]
    if not request.user.has_perm(needed):
        raise ApiError(403, "The token's user is not allowed to do this.")
