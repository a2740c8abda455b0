"""Creating instances and the OAuth consent that precedes it (and re-authorizing one).

Split from services.py, which keeps the operations on active instances. The same rules hold:
save locally first, never hold a database transaction across a remote call, change local state
to match Cloud Elements only after it answered, and write down what happened.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from instances import oauth, parameters
from instances.cloud_elements import client as ce
from instances.forms import webhook_url
from instances.models import AuditEntry, ElementInstance, OAuthState, Tag, WebhookSettings
from instances.oauth import StateError
from instances.services import ActionError, _adopt, _mark, _record_error, record

Status = ElementInstance.Status
Action = AuditEntry.Action
# Statuses of an instance that Cloud Elements does not have yet.
WAITING = (Status.DRAFT, Status.AUTHORIZING, Status.FAILED)
EVENT_PREFIX = "event."

# --- Drafts and payloads -------------------------------------------------------------------


@sensitive_variables("data")
def create_draft(*, data: dict[str, Any], actor) -> ElementInstance:
    """Save what the operator typed before anything is sent anywhere."""
    try:
        return _create_draft(data, actor)
    except IntegrityError:
        # The same form submitted twice at once: the first submission won.
        raise ActionError("This form was already submitted; see the instance it created.") from None


def _create_draft(data: dict[str, Any], actor) -> ElementInstance:
    with transaction.atomic():
        instance = ElementInstance.objects.create(
            uuid=data["instance_uuid"],
            name=data["name"],
            element_key=data["element_key"],
            authentication_type=data["authentication_type"],
            oauth_api_key=data.get("oauth_api_key", ""),
            oauth_api_secret=data.get("oauth_api_secret", ""),
            oauth_callback_url=data.get("oauth_callback_url", ""),
            api_key=data.get("api_key", ""),
            sends_events=data.get("sends_events", True),
            created_by=actor,
        )
        if data.get("extras"):
            instance.set_extras(data["extras"])
            instance.save(update_fields=["extra_configuration"])
        WebhookSettings.objects.filter(instance=instance).update(
            enabled=bool(data.get("events_enabled")),
            callback_url=data.get("event_callback_url", ""),
        )
        if data.get("signature_key"):
            # Through save(), so that the field encrypts it.
            webhook = instance.webhook
            webhook.signature_key = data["signature_key"]
            webhook.save(update_fields=["signature_key"])
        instance.tags.set(Tag.for_names(data.get("tags", [])))
        record(instance, Action.DRAFTED, actor=actor)
    return ElementInstance.objects.select_related("webhook").get(pk=instance.pk)


@sensitive_variables("configuration", "extras")
def build_instance_payload(instance: ElementInstance, *, code: str | None = None) -> dict:
    """The documented `POST /instances` body for this instance (tests/data holds the example)."""
    webhook = instance.webhook
    configuration: dict[str, Any] = {}
    if instance.authentication_type == parameters.OAUTH2:
        configuration["oauth.api.key"] = instance.oauth_api_key
        configuration["oauth.api.secret"] = instance.oauth_api_secret
        configuration["oauth.callback.url"] = instance.oauth_callback_url
    else:
        configuration["authentication.type"] = parameters.API_KEY
        if instance.api_key:  # else the element's own parameters carry its key
            configuration[parameters.API_KEY_PARAMETER] = instance.api_key
    # The element's other parameters after the documented ones (Dropbox has none, so its body
    # is the documented example): the connection's, then the event section's.
    extras = instance.extras
    configuration.update((k, v) for k, v, _ in extras if not k.startswith(EVENT_PREFIX))
    if instance.sends_events:
        configuration["event.notification.enabled"] = webhook.enabled
        if webhook.callback_url:
            configuration["event.notification.callback.url"] = webhook.callback_url
        if webhook.signature_key:
            configuration["event.notification.signature.key"] = webhook.signature_key
        configuration.update((k, v) for k, v, _ in extras if k.startswith(EVENT_PREFIX))
    payload: dict[str, Any] = {"element": {"key": instance.element_key}}
    if code is not None:
        payload["providerData"] = {"code": code}
    payload["configuration"] = configuration
    payload["tags"] = instance.tag_names()
    payload["name"] = instance.name
    return payload


# --- OAuth consent -------------------------------------------------------------------------


@sensitive_variables("state")
def start_authorization(
    *,
    instance: ElementInstance,
    session_key: str,
    actor,
    purpose: str = OAuthState.Purpose.CREATE,
    consent_link=None,
) -> str:
    """Mint a fresh state for this session and instance; return the consent URL to redirect to."""
    state = oauth.issue_state(
        instance=instance, session_key=session_key, purpose=purpose, consent_link=consent_link
    )
    try:
        answer = ce.get_oauth_url(
            element_key=instance.element_key,
            api_key=instance.oauth_api_key,
            api_secret=instance.oauth_api_secret,
            callback_url=instance.oauth_callback_url,
            state=state,
        )
    except ce.CloudElementsError as error:
        # A GET changes nothing remotely, so even an ambiguous failure is a plain failure here.
        if purpose == OAuthState.Purpose.CREATE:
            _mark(instance, Status.FAILED, error.message, error.request_id)
        _record_error(instance, error, actor=actor)
        raise
    if purpose == OAuthState.Purpose.CREATE:
        _mark(instance, Status.AUTHORIZING)
    record(instance, Action.AUTHORIZING, actor=actor, detail=f"{purpose} consent started")
    return answer.oauth_url


def complete_authorization(
    *, state: str, session_key: str, params: dict[str, str], actor
) -> tuple[ElementInstance, str]:
    """Handle the provider's redirect: consume the state, then create or re-authorize.

    Returns the instance and the consent's purpose (OAuthState.Purpose), so that the page
    can say which of the two happened.
    """
    pending = oauth.consume_state(state=state, session_key=session_key)
    instance = pending.instance
    code = params.get("code", "")
    error = params.get("error", "")
    if error or not code:
        _authorization_refused(pending, error or "invalid_request", params, actor=actor)
        return instance, pending.purpose
    if pending.purpose == OAuthState.Purpose.REAUTHORIZE:
        return _reauthorize_remote(instance, code=code, actor=actor), pending.purpose
    return _create_remote(instance, code=code, actor=actor), pending.purpose


def _authorization_refused(pending: OAuthState, error: str, params: dict, *, actor) -> None:
    instance = pending.instance
    meaning = oauth.OAUTH_ERRORS.get(error, "The provider did not authorize the request")
    description = params.get("error_description", "")
    if not params.get("error"):
        description = "The provider answered with neither a code nor an error."
    message = f"{meaning} ({error})" + (f": {description}" if description else ".")
    action = Action.AUTHORIZATION_DENIED
    if pending.purpose == OAuthState.Purpose.CREATE:
        # Only an instance still waiting goes back to draft: another consent for the same
        # draft may have completed meanwhile, and an active instance must stay active.
        ElementInstance.objects.filter(pk=instance.pk, status__in=WAITING).update(
            status=Status.DRAFT, last_error=message, last_error_request_id=""
        )
        instance.refresh_from_db(fields=["status", "last_error", "last_error_request_id"])
    if instance.status == Status.ACTIVE:
        # Still active with its old authorization; say why the new one did not happen.
        _mark(instance, instance.status, message)
    record(instance, action, actor=actor, outcome=AuditEntry.Outcome.FAILURE, detail=message)


# --- Talking to Cloud Elements -------------------------------------------------------------


def create_with_api_key(*, instance: ElementInstance, actor) -> ElementInstance:
    """apiKey authentication: no consent screen, the instance is posted at once."""
    return _create_remote(instance, code=None, actor=actor)


@sensitive_variables("code", "payload")
def _create_remote(instance: ElementInstance, *, code: str | None, actor) -> ElementInstance:
    # Claim the instance: one create in flight, and a crash mid-call leaves it `unknown`
    # (to be reconciled), never `authorizing` (which would invite a second create).
    claimed = ElementInstance.objects.filter(pk=instance.pk, status__in=WAITING).update(
        status=Status.UNKNOWN,
        last_error="Sent to Cloud Elements; no answer yet.",
        updated_at=timezone.now(),
    )
    if claimed != 1:
        raise StateError(
            "busy", "This instance is already being created; its page shows the outcome."
        )
    instance.refresh_from_db()
    payload = build_instance_payload(instance, code=code)
    try:
        created = ce.create_instance(payload)
    except ce.CloudElementsError as error:
        _record_error(instance, error, actor=actor)
        if error.ambiguous:
            _mark(instance, Status.UNKNOWN, error.message, error.request_id)
            reconcile(instance=instance, actor=actor)
        else:
            _mark(instance, Status.FAILED, error.message, error.request_id)
        return instance
    _adopt(instance, created)
    record(instance, Action.CREATED, actor=actor, detail=f"Cloud Elements id {created.id}")
    return instance


def _reauthorize_remote(instance: ElementInstance, *, code: str, actor) -> ElementInstance:
    try:
        updated = ce.update_instance(instance.remote_id, {"providerData": {"code": code}})
    except ce.CloudElementsError as error:
        _record_error(instance, error, actor=actor)
        instance.last_error, instance.last_error_request_id = error.message, error.request_id
        instance.save(update_fields=["last_error", "last_error_request_id", "updated_at"])
        return instance
    _adopt(instance, updated)
    record(instance, Action.REAUTHORIZED, actor=actor, detail=f"Cloud Elements id {updated.id}")
    return instance


def reconcile(*, instance: ElementInstance, actor) -> ElementInstance:
    """Find out whether an ambiguous create happened, by looking at Cloud Elements."""
    try:
        candidates = ce.list_instances(search_text=instance.name)
    except ce.CloudElementsError as error:
        _record_error(instance, error, actor=actor)
        _mark(
            instance,
            Status.UNKNOWN,
            f"Could not check Cloud Elements yet: {error.message}",
            error.request_id,
        )
        return instance
    known = set(
        ElementInstance.objects.exclude(pk=instance.pk)
        .filter(account=ce.account(), remote_id__in=[c.id for c in candidates])
        .values_list("remote_id", flat=True)
    )
    matches = [
        c
        for c in candidates
        if c.name == instance.name and c.element_key == instance.element_key and c.id not in known
    ]
    # Our own webhook URL carries the instance's uuid: the surest marker when present.
    marker = webhook_url(instance.uuid)
    marked = [c for c in matches if c.setting("event.notification.callback.url") == marker]
    chosen = marked or matches
    if len(chosen) == 1:
        try:
            full = ce.get_instance(chosen[0].id)
        except ce.CloudElementsError as error:
            _record_error(instance, error, actor=actor)
            return instance
        _adopt(instance, full)
        record(
            instance, Action.RECONCILED, actor=actor, detail=f"Found Cloud Elements id {full.id}"
        )
    elif not chosen and timezone.now() - instance.updated_at < _reconcile_grace():
        # Cloud Elements may still be working on the request that timed out: finding nothing
        # this soon proves nothing, and a retry now could create a second instance.
        _mark(
            instance,
            Status.UNKNOWN,
            "Cloud Elements did not answer and does not list the instance yet. "
            "Check the status again in a minute.",
        )
    elif not chosen:
        message = (
            "Cloud Elements has no instance with this name: it was not created. "
            "Retry to start a new consent."
        )
        _mark(instance, Status.FAILED, message)
        record(
            instance,
            Action.RECONCILED,
            actor=actor,
            outcome=AuditEntry.Outcome.FAILURE,
            detail=message,
        )
    else:
        ids = ", ".join(str(c.id) for c in chosen)
        _mark(
            instance,
            Status.UNKNOWN,
            f"Several instances named “{instance.name}” exist at Cloud Elements ({ids}); "
            "check them there before retrying.",
        )
    return instance


def _reconcile_grace() -> timedelta:
    timeout = settings.CLOUD_ELEMENTS_TIMEOUT
    read = timeout[-1] if isinstance(timeout, tuple | list) else timeout
    return timedelta(seconds=2 * float(read) + 5)


def retry(*, instance: ElementInstance, session_key: str, actor) -> str | None:
    """Try again from failed or unknown: reconcile first, then start a fresh consent."""
    if instance.status == Status.UNKNOWN:
        reconcile(instance=instance, actor=actor)
        if instance.status != Status.FAILED:
            return None
    if instance.authentication_type == parameters.API_KEY:
        create_with_api_key(instance=instance, actor=actor)
        return None
    return start_authorization(instance=instance, session_key=session_key, actor=actor)


def reauthorize(*, instance: ElementInstance, session_key: str, actor) -> str:
    """Send an active instance through the consent screen again, keeping its id."""
    return start_authorization(
        instance=instance,
        session_key=session_key,
        actor=actor,
        purpose=OAuthState.Purpose.REAUTHORIZE,
    )
