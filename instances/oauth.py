"""OAuth `state` for the consent flow: random, single use, bound to a session, short-lived.

Only hashes are stored (see OAuthState), and a state is consumed with one conditional UPDATE,
so two callbacks racing with the same state cannot both pass, whatever the number of workers.
"""

from __future__ import annotations

import secrets

from django.utils import timezone

from .models import ConsentLink, ElementInstance, OAuthState

# RFC 6749 section 4.1.2.1 error codes, with what they mean for an operator.
OAUTH_ERRORS = {
    "access_denied": "Access was denied on the consent screen",
    "invalid_request": "The provider found the authorization request malformed",
    "unauthorized_client": "The app is not allowed to request authorization this way",
    "unsupported_response_type": "The provider does not support this kind of authorization",
    "invalid_scope": "The requested scope is invalid",
    "server_error": "The provider had an internal error",
    "temporarily_unavailable": "The provider is temporarily unavailable",
}


class StateError(Exception):
    """An OAuth callback whose `state` cannot be accepted; nothing was sent to Cloud Elements."""

    def __init__(self, reason: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.status = status


def issue_state(
    *,
    instance: ElementInstance,
    session_key: str,
    purpose: str,
    consent_link: ConsentLink | None = None,
) -> str:
    """Return a fresh state (256 bits) for this session and instance; keep only its hash.

    A state issued from a consent link is bound to that link as well as to the session.
    """
    state = secrets.token_urlsafe(32)
    session_hash = OAuthState.digest(session_key)
    _forget_old_states(session_hash)
    OAuthState.objects.create(
        state_hash=OAuthState.digest(state),
        session_hash=session_hash,
        instance=instance,
        element_key=instance.element_key,
        purpose=purpose,
        consent_link=consent_link,
    )
    return state


def _forget_old_states(session_hash: str) -> None:
    pending = OAuthState.objects.filter(session_hash=session_hash, used_at__isnull=True)
    stale = list(pending.values_list("pk", flat=True)[OAuthState.MAX_PENDING_PER_SESSION - 1 :])
    cutoff = timezone.now() - OAuthState.LIFETIME * 6
    OAuthState.objects.filter(pk__in=stale).update(used_at=timezone.now())
    OAuthState.objects.filter(created_at__lt=cutoff).delete()


def is_link_state(state: str) -> bool:
    """Whether this state was issued from a consent link (whose callback needs no login)."""
    if not state:
        return False
    return OAuthState.objects.filter(
        state_hash=OAuthState.digest(state), consent_link__isnull=False
    ).exists()


def consume_state(*, state: str, session_key: str, by_link: bool = False) -> OAuthState:
    """Accept a state once, for the session that started it, within its lifetime.

    `by_link` says which flow is completing: a state issued from a consent link completes only
    the owner's flow, and the operator's state only the operator's.
    """
    if not state:
        raise StateError(
            "missing",
            "The provider sent you back without a state, so this sign-in cannot be "
            "matched to a request from this dashboard.",
        )
    found = (
        OAuthState.objects.select_related("instance", "consent_link")
        .filter(state_hash=OAuthState.digest(state))
        .first()
    )
    if found is None:
        raise StateError(
            "unknown", "This sign-in was not started from this dashboard (unknown state)."
        )
    if (found.consent_link_id is not None) != by_link:
        raise StateError(
            "wrong_flow",
            "This sign-in belongs to another kind of consent and cannot be completed here.",
            status=403,
        )
    if found.session_hash != OAuthState.digest(session_key or ""):
        raise StateError(
            "foreign",
            "This sign-in was started in another browser session. Start it again here.",
            status=403,
        )
    if found.used_at is not None:
        raise StateError(
            "replayed", "This sign-in link was already used. Each consent can be used once."
        )
    claimed = OAuthState.objects.filter(pk=found.pk, used_at__isnull=True).update(
        used_at=timezone.now()
    )
    if claimed != 1:
        raise StateError("replayed", "This sign-in link was already used.")
    if found.expired:
        raise StateError(
            "expired", "This sign-in took longer than 10 minutes and has expired. Start it again."
        )
    return found
