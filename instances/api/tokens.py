"""Making, checking and revoking API tokens.

A token is `ced_` and 43 URL-safe characters (256 random bits). It is shown once, when made;
afterwards only its prefix. It is found by its SHA-256, acts with its user's permissions
(restricted further by its scopes), and records when and from where it was last used (at most
once a minute, so that a busy script does not write on every request).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.core.cache import cache
from django.db.models import Q
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from instances.api.models import ApiToken

PREFIX = "ced_"
PREFIX_SHOWN = 12
LAST_USED_EVERY = timedelta(minutes=1)


class TokenError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass
class Made:
    token: ApiToken
    secret: str  # the whole token: shown once


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@sensitive_variables("secret")
def make(*, user, name: str, scopes: list[str], expires_at: datetime | None) -> Made:
    name = " ".join(name.split())
    if not name:
        raise TokenError("Give the token a name, to know later what uses it.")
    scopes = sorted(set(scopes) & set(ApiToken.Scope.values))
    if not scopes:
        raise TokenError("Choose at least one scope: read, write or both.")
    if expires_at is not None and expires_at <= timezone.now():
        raise TokenError("The expiry is in the past.")
    secret = PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=user,
        name=name[:100],
        prefix=secret[:PREFIX_SHOWN],
        token_hash=digest(secret),
        scopes=scopes,
        expires_at=expires_at,
    )
    return Made(token, secret)


def revoke(*, token: ApiToken) -> None:
    if not ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    ):
        raise TokenError("This token was already revoked.")


@sensitive_variables("secret")
def authenticate(secret: str, address: str | None) -> ApiToken | None:
    """The usable token for this secret (with its user), or None: unknown, revoked, expired,
    or its user may no longer sign in."""
    if not secret.startswith(PREFIX) or len(secret) > 100:
        return None
    now = timezone.now()
    token = (
        ApiToken.objects.select_related("user")
        .filter(token_hash=digest(secret), revoked_at__isnull=True)
        .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))
        .first()
    )
    if token is None or not token.user.is_active or not token.user.is_staff:
        return None
    # At most once a minute per token (the cache's add is the lock).
    if cache.add(f"api-token-used:{token.pk}", 1, timeout=int(LAST_USED_EVERY.total_seconds())):
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now, last_used_from=address)
    return token


def over_limit(token: ApiToken, per_minute: int) -> int:
    """Seconds until this token may call again when it is over its limit; 0 when it is not.
    A fixed one-minute window in Django's cache (shared by the workers when the cache is)."""
    window = int(timezone.now().timestamp()) // 60
    key = f"api-rate:{token.pk}:{window}"
    cache.add(key, 0, timeout=70)
    try:
        count = cache.incr(key)
    except ValueError:
        cache.set(key, 1, timeout=70)
        count = 1
    if count <= per_minute:
        return 0
    return 60 - int(timezone.now().timestamp()) % 60 or 1
