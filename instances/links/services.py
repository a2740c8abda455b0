"""Consent links: the Dropbox account's owner gives consent without a login (DESIGN.md §10).

An operator makes a link for a draft (to create the instance) or for an active instance (to
re-authorize it, keeping its Cloud Elements id). The owner opens it, continues to the same
consent screen and callback as the operator's flow, and the link is spent once that worked.
Tokens are found by their SHA-256 only; the OAuth state issued from a link is bound to the link
and to the owner's browser session (see oauth.py).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import OuterRef, QuerySet, Subquery
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from instances import consent, oauth, parameters
from instances.links import signals
from instances.links.models import ConsentLink
from instances.models import AuditEntry, ElementInstance
from instances.services import ActionError, record

Status = ElementInstance.Status
Action = AuditEntry.Action
Purpose = ConsentLink.Purpose


class LinkGone(Exception):
    """A link that cannot be used (any more); nothing was sent to Cloud Elements."""

    def __init__(self, reason: str, message: str, status: int = 410) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.status = status


@dataclass
class Outcome:
    link: ConsentLink
    instance: ElementInstance
    # "connected", "refused", "failed" (Cloud Elements refused) or "pending" (no answer yet).
    result: str


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    """256 random bits, URL-safe (43 characters)."""
    return secrets.token_urlsafe(32)


def with_waiting_consent(queryset: QuerySet) -> QuerySet:
    """Annotate `consent_link_expires`: when the instance's usable link expires, if it has one.

    One correlated subquery, so that a list of instances costs no query per row.
    """
    live = ConsentLink.objects.live().filter(instance=OuterRef("pk"))
    return queryset.annotate(consent_link_expires=Subquery(live.values("expires_at")[:1]))


def live_link(instance: ElementInstance) -> ConsentLink | None:
    return instance.consent_links.live().first()


def _purpose_for(instance: ElementInstance) -> str:
    if instance.authentication_type != parameters.OAUTH2:
        raise ActionError("Consent links are for oauth2 instances; an apiKey needs no consent.")
    if instance.status in consent.WAITING:
        return Purpose.CREATE
    if instance.status == Status.ACTIVE:
        return Purpose.REAUTHORIZE
    raise ActionError(
        f"“{instance.name}” is {instance.get_status_display().lower()}: a consent link is for a "
        "draft, a failed instance, or an active one to re-authorize."
    )


@sensitive_variables("token")
def make_link(
    *, instance: ElementInstance, actor, note: str = "", success_url: str = "", error_url: str = ""
) -> ConsentLink:
    """Make the instance's one usable link, revoking any older one. The token is in `.token`."""
    purpose = _purpose_for(instance)
    token = new_token()
    now = timezone.now()
    revoked = []
    try:
        with transaction.atomic():
            for old in instance.consent_links.open().select_for_update():
                old.revoked_at = now
                old.save(update_fields=["revoked_at"])
                revoked.append(old.pk)
                record(instance, Action.LINK_REVOKED, actor=actor, detail="Replaced by a new link.")
            link = ConsentLink.objects.create(
                instance=instance,
                purpose=purpose,
                token_hash=digest(token),
                token=token,
                note=note,
                success_url=success_url,
                error_url=error_url,
                expires_at=now + timedelta(days=settings.CONSENT_LINK_DAYS),
                created_by=actor if getattr(actor, "is_authenticated", False) else None,
            )
            for_whom = f" for {note}" if note else ""
            expires = f"{link.expires_at:%Y-%m-%d %H:%M} UTC"
            detail = f"{link.get_purpose_display()} link{for_whom}, expires {expires}."
            record(instance, Action.LINK_MADE, actor=actor, detail=detail)
    except IntegrityError:
        # Two links made at the same moment: the unique constraint kept one.
        raise ActionError("Another link was made at the same moment; use that one.") from None
    signals.send(signals.REVOKED, revoked)
    return link


@dataclass
class MadeLinks:
    # New links, each with its token in `.token`, in the order of the instances given.
    links: list[ConsentLink]
    # Links revoked to make room (an instance has one open link at a time).
    revoked: list[int]


@sensitive_variables("tokens")
def make_links(
    *, instances: list[ElementInstance], purpose: str, expires_at, note: str, actor
) -> MadeLinks:
    """A new link for each of many instances at once (a campaign's batch), under make_link's
    rules, in a few statements. Call inside a transaction; the caller has checked each
    instance's purpose. `link_event` for the revoked links is the caller's to send, once
    its transaction committed."""
    if not instances:
        return MadeLinks([], [])
    user = actor if getattr(actor, "is_authenticated", False) else None
    now = timezone.now()
    ids = [instance.pk for instance in instances]
    old = list(
        ConsentLink.objects.open()
        .filter(instance_id__in=ids)
        .select_for_update()
        .values_list("pk", "instance_id")
    )
    ConsentLink.objects.filter(pk__in=[pk for pk, _ in old]).update(revoked_at=now)
    entries = [
        AuditEntry(
            instance_id=instance_id,
            action=Action.LINK_REVOKED,
            actor=user,
            detail="Replaced by a new link.",
        )
        for _, instance_id in old
    ]
    tokens = [new_token() for _ in instances]
    made = ConsentLink.objects.bulk_create(
        [
            ConsentLink(
                instance=instance,
                purpose=purpose,
                token_hash=digest(token),
                token=token,
                note=note[:200],
                expires_at=expires_at,
                created_by=user,
                created_at=now,
            )
            for instance, token in zip(instances, tokens, strict=True)
        ]
    )
    expires = f"{expires_at:%Y-%m-%d %H:%M} UTC"
    label = Purpose(purpose).label
    entries += [
        AuditEntry(
            instance_id=link.instance_id,
            action=Action.LINK_MADE,
            actor=user,
            detail=f"{label} link for {note}, expires {expires}."[:2000],
        )
        for link in made
    ]
    AuditEntry.objects.bulk_create(entries)
    return MadeLinks(made, [pk for pk, _ in old])


def revoke_link(*, link: ConsentLink, actor) -> None:
    revoked = ConsentLink.objects.open().filter(pk=link.pk).update(revoked_at=timezone.now())
    if revoked != 1:
        raise ActionError("This link was already used or revoked.")
    record(link.instance, Action.LINK_REVOKED, actor=actor)
    signals.send(signals.REVOKED, [link.pk])


def revoke_links(*, link_ids: list[int], actor, detail: str) -> int:
    """Revoke whichever of these links are still open, in a few statements; returns how many."""
    user = actor if getattr(actor, "is_authenticated", False) else None
    with transaction.atomic():
        # Locked, so that a link an owner is using right now is either used or revoked here.
        open_links = ConsentLink.objects.open().filter(pk__in=link_ids).select_for_update()
        found = list(open_links.values_list("pk", "instance_id"))
        if not found:
            return 0
        ConsentLink.objects.filter(pk__in=[pk for pk, _ in found]).update(revoked_at=timezone.now())
        AuditEntry.objects.bulk_create(
            AuditEntry(
                instance_id=instance_id, action=Action.LINK_REVOKED, actor=user, detail=detail
            )
            for _, instance_id in found
        )
    signals.send(signals.REVOKED, [pk for pk, _ in found])
    return len(found)


# --- The account owner's side ----------------------------------------------------------------


def find_link(token: str) -> ConsentLink:
    """The link for this token, if it can still be used; LinkGone otherwise."""
    link = None
    if token:
        link = (
            ConsentLink.objects.select_related("instance").filter(token_hash=digest(token)).first()
        )
    if link is None:
        raise LinkGone(
            "unknown",
            "This link is not valid. Check that you opened all of it, or ask the person who sent "
            "it for a new one.",
            status=404,
        )
    check_usable(link)
    return link


def check_usable(link: ConsentLink) -> None:
    instance = link.instance
    if link.revoked_at is not None:
        raise LinkGone(
            "revoked", "This link was withdrawn by the person who sent it. Ask them for a new one."
        )
    if link.used_at is not None:
        raise LinkGone(
            "used", "This link was already used: the account is connected. Nothing to do."
        )
    if link.is_expired:
        if ConsentLink.objects.filter(pk=link.pk, expiry_recorded_at__isnull=True).update(
            expiry_recorded_at=timezone.now()
        ):
            record(instance, Action.LINK_EXPIRED, outcome=AuditEntry.Outcome.FAILURE)
            signals.send(signals.EXPIRED, [link.pk])
        raise LinkGone(
            "expired",
            f"This link expired on {timezone.localtime(link.expires_at):%d %B %Y}. "
            "Ask the person who sent it for a new one.",
        )
    wanted = consent.WAITING if link.purpose == Purpose.CREATE else (Status.ACTIVE,)
    if instance.status not in wanted:
        # Connected another way meanwhile, or deleted: the link has nothing left to do.
        raise LinkGone("done", "This link is no longer needed. Nothing to do.")


def open_link(link: ConsentLink) -> None:
    """Note the first opening in the history."""
    if ConsentLink.objects.filter(pk=link.pk, opened_at__isnull=True).update(
        opened_at=timezone.now()
    ):
        record(link.instance, Action.LINK_OPENED)
        signals.send(signals.OPENED, [link.pk])


def start(*, link: ConsentLink, session_key: str) -> str:
    """Continue to Dropbox: a state bound to this link and session; the consent URL."""
    check_usable(link)
    return consent.start_authorization(
        instance=link.instance,
        session_key=session_key,
        actor=None,
        purpose=link.purpose,
        consent_link=link,
    )


@sensitive_variables("params", "code")
def complete(*, state: str, session_key: str, params: dict[str, str]) -> Outcome:
    """The provider's redirect for a link's consent: create or re-authorize, once per link."""
    pending = oauth.consume_state(state=state, session_key=session_key, by_link=True)
    link, instance = pending.consent_link, pending.instance
    link.instance = instance
    check_usable(link)
    code = params.get("code", "")
    if params.get("error") or not code:
        consent._authorization_refused(
            pending, params.get("error") or "invalid_request", params, actor=None
        )
        record(instance, Action.CONSENT_REFUSED, outcome=AuditEntry.Outcome.FAILURE)
        signals.send(signals.REFUSED, [link.pk])
        return Outcome(link, instance, "refused")
    record(instance, Action.CONSENT_GIVEN)
    # Spend the link before anything is sent: a second browser's consent for the same link
    # stops here, so one link makes at most one instance.
    claimed = ConsentLink.objects.open().filter(pk=link.pk).update(used_at=timezone.now())
    if claimed != 1:
        raise LinkGone("used", "This link was already used: the account is connected.")
    signals.send(signals.CONSENT_GIVEN, [link.pk])
    try:
        if link.purpose == Purpose.REAUTHORIZE:
            consent._reauthorize_remote(instance, code=code, actor=None)
        else:
            consent._create_remote(instance, code=code, actor=None)
    except oauth.StateError:
        _release(link)
        raise LinkGone(
            "busy", "This connection is being made from another page right now.", status=409
        ) from None
    instance.refresh_from_db()
    if instance.status == Status.ACTIVE and not instance.last_error:
        record(instance, Action.LINK_COMPLETED, detail=f"Cloud Elements id {instance.remote_id}")
        signals.send(signals.COMPLETED, [link.pk])
        return Outcome(link, instance, "connected")
    if instance.status == Status.UNKNOWN:
        # Cloud Elements did not answer: the operator reconciles; the link stays spent.
        return Outcome(link, instance, "pending")
    _release(link)
    return Outcome(link, instance, "failed")


def _release(link: ConsentLink) -> None:
    """Cloud Elements refused: make the link usable again until it expires."""
    try:
        with transaction.atomic():
            ConsentLink.objects.filter(pk=link.pk, revoked_at__isnull=True).update(used_at=None)
    except IntegrityError:
        # The operator made a new link meanwhile; this one stays spent.
        pass
