"""OAuth `state` for the consent flow: random, single use, bound to a session, short-lived.

Only hashes are stored (see OAuthState), and a state is consumed with one conditional UPDATE,
so two callbacks racing with the same state cannot both pass, whatever the number of workers.
"""

from __future__ import annotations

import secrets

from django.db.models import Exists, OuterRef
from django.utils import timezone

from instances.links.models import ConsentLink
from instances.models import AuditEntry, ElementInstance, OAuthState

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

    def __init__(
        self, reason: str, message: str, status: int = 400, instance: ElementInstance | None = None
    ) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.status = status
        # Set only once the state is known to belong to this session, so that the page can
        # point at the instance without telling anyone else about it.
        self.instance = instance

    @property
    def already_connected(self) -> bool:
        """A reload of a consent that completed (the back button, a bookmark)."""
        return (
            self.reason == "replayed"
            and self.instance is not None
            and self.instance.status == ElementInstance.Status.ACTIVE
        )


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
        raise _replayed(found.instance)
    claimed = OAuthState.objects.filter(pk=found.pk, used_at__isnull=True).update(
        used_at=timezone.now()
    )
    if claimed != 1:
        raise _replayed(found.instance)
    if found.expired:
        raise StateError(
            "expired",
            "This sign-in took longer than 10 minutes and has expired. Start it again.",
            instance=found.instance,
        )
    return found


def _replayed(instance: ElementInstance) -> StateError:
    if instance.status == ElementInstance.Status.ACTIVE:
        return StateError(
            "replayed",
            f"This sign-in was already used: “{instance.name}” is already connected "
            f"(Cloud Elements id {instance.remote_id}). There is nothing more to do.",
            instance=instance,
        )
    return StateError(
        "replayed",
        "This sign-in link was already used. Each consent can be used once.",
        instance=instance,
    )


EXPIRED_CONSENT = (
    "The consent screen was not completed within 10 minutes (or the browser never reached it). "
    "Nothing was sent to Cloud Elements; choose Retry to start a new consent."
)


def release_expired_consents() -> int:
    """Put back to draft the instances whose every consent has expired or been used.

    A redirect the browser refused, or a tab closed on the consent screen, must not leave an
    instance in *Authorizing* for ever. One query when there is nothing to release.
    """
    live = OAuthState.objects.filter(
        instance=OuterRef("pk"),
        used_at__isnull=True,
        created_at__gte=timezone.now() - OAuthState.LIFETIME,
    )
    stale = list(
        ElementInstance.objects.filter(
            status=ElementInstance.Status.AUTHORIZING,
            updated_at__lt=timezone.now() - OAuthState.LIFETIME,
        )
        .filter(~Exists(live))
        .values_list("pk", flat=True)
    )
    if not stale:
        return 0
    # Conditional: an instance a callback claimed meanwhile is no longer `authorizing`.
    released = ElementInstance.objects.filter(
        pk__in=stale, status=ElementInstance.Status.AUTHORIZING
    ).update(
        status=ElementInstance.Status.DRAFT, last_error=EXPIRED_CONSENT, updated_at=timezone.now()
    )
    if released != len(stale):
        # A callback won the race for some: record only those released here.
        stale = list(
            ElementInstance.objects.filter(
                pk__in=stale, status=ElementInstance.Status.DRAFT, last_error=EXPIRED_CONSENT
            ).values_list("pk", flat=True)
        )
    AuditEntry.objects.bulk_create(
        AuditEntry(
            instance_id=pk,
            action=AuditEntry.Action.AUTHORIZATION_DENIED,
            outcome=AuditEntry.Outcome.FAILURE,
            detail=EXPIRED_CONSENT,
        )
        for pk in stale
    )
    return released
