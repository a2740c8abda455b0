"""Element instances, their tags, webhook settings and audit history."""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, models, transaction
from django.db.models.functions import Lower
from django.urls import reverse
from django.utils import timezone

from instances import parameters
from instances.cloud_elements import client as ce
from instances.lib import audit_context
from instances.lib.fields import EncryptedTextField


class Tag(models.Model):
    """A user-defined instance tag; names are trimmed and unique whatever their case."""

    name = models.CharField(max_length=100, unique=True)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(Lower("name"), name="tag_name_unique_ci")]

    def __str__(self) -> str:
        return self.name

    @staticmethod
    def normalize(name: str) -> str:
        return " ".join(name.split())

    @classmethod
    def for_names(cls, names: list[str]) -> list[Tag]:
        """Return tags for `names` (normalised, de-duplicated), creating missing ones."""
        wanted: dict[str, str] = {}
        for name in names:
            clean = cls.normalize(name)
            if clean:
                wanted.setdefault(clean.lower(), clean)
        tags = []
        for clean in wanted.values():
            tag = cls.objects.filter(name__iexact=clean).first()
            if tag is None:
                try:
                    with transaction.atomic():
                        tag = cls.objects.create(name=clean)
                except IntegrityError:
                    # Created by a concurrent request meanwhile.
                    tag = cls.objects.get(name__iexact=clean)
            tags.append(tag)
        return tags


class ElementInstance(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        AUTHORIZING = "authorizing", "Authorizing"
        ACTIVE = "active", "Active"
        FAILED = "failed", "Failed"
        UNKNOWN = "unknown", "Unknown (reconciling)"
        DELETED = "deleted", "Deleted"

    class AuthenticationType(models.TextChoices):
        OAUTH2 = parameters.OAUTH2, "oauth2"
        API_KEY = parameters.API_KEY, "apiKey"

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    element_key = models.CharField(
        "element", max_length=64, default=parameters.DEFAULT_ELEMENT_KEY, db_index=True
    )
    name = models.CharField(max_length=200)
    authentication_type = models.CharField(
        max_length=16, choices=AuthenticationType.choices, default=AuthenticationType.OAUTH2
    )
    oauth_api_key = models.CharField("OAuth client id", max_length=200, blank=True)
    oauth_api_secret = EncryptedTextField("OAuth client secret", blank=True)
    oauth_callback_url = models.URLField("OAuth callback URL", max_length=500, blank=True)
    api_key = EncryptedTextField("API key", blank=True)
    # The element's other parameters (beyond the documented ones above), as its metadata listed
    # them when the instance was drafted: JSON [[key, value, secret], ...] in the element's
    # order, encrypted whole because some are secrets. Dropbox has none.
    extra_configuration = EncryptedTextField("other parameters", blank=True)
    # Whether the element sends events (its metadata's `events.supported` when drafted): an
    # element that does not is sent no event settings at all.
    sends_events = models.BooleanField(default=True)
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.DRAFT, db_index=True
    )

    class Origin(models.TextChoices):
        CREATED = "created", "Created here"
        IMPORTED = "imported", "Imported"

    origin = models.CharField(max_length=16, choices=Origin.choices, default=Origin.CREATED)
    # The Cloud Elements account the remote id belongs to (client.account(): the base URL, or
    # "sandbox"); a remote id is unique per account.
    account = models.CharField("Cloud Elements account", max_length=500, blank=True)
    remote_id = models.BigIntegerField("Cloud Elements id", null=True, blank=True)
    remote_created_at = models.DateTimeField("created at Cloud Elements", null=True, blank=True)
    remote_token = EncryptedTextField("instance token", blank=True)
    remote_valid = models.BooleanField("valid at Cloud Elements", default=True)
    remote_disabled = models.BooleanField("disabled at Cloud Elements", default=False)
    remote_missing = models.BooleanField(
        "deleted at Cloud Elements",
        default=False,
        help_text="Cloud Elements has no such instance any more; it is kept here with its history.",
    )
    # What Cloud Elements held at the last look (name, tags, events, callback URL), a digest of
    # it to skip unchanged instances, and whether it differs from what is here (drift).
    remote_snapshot = models.JSONField(default=dict, blank=True)
    remote_fingerprint = models.CharField(max_length=64, blank=True)
    drifted = models.BooleanField("changed at Cloud Elements", default=False)
    synced_at = models.DateTimeField("last synced", null=True, blank=True)
    last_error = models.TextField(blank=True)
    last_error_request_id = models.CharField(max_length=100, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="element_instances",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    tags = models.ManyToManyField(Tag, blank=True, related_name="instances")
    # Who owns the connected account: whom a re-consent campaign writes to. Kept here only
    # (Cloud Elements has no such field); the address is stored in lower case.
    owner_name = models.CharField("owner's name", max_length=200, blank=True)
    owner_email = models.EmailField("owner's e-mail address", max_length=254, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["account", "remote_id"],
                condition=models.Q(remote_id__isnull=False),
                name="instance_account_remote_id_unique",
            ),
        ]
        indexes = [
            models.Index(fields=["element_key", "name"], name="instance_element_name"),
            # The list's order (newest first, id as tie-break) for keyset paging, unfiltered
            # and by status.
            models.Index(fields=["-created_at", "-id"], name="instance_created_id"),
            models.Index(fields=["status", "-created_at", "-id"], name="instance_status_created"),
            # The few active instances Cloud Elements marked invalid or disabled, counted on the
            # list ("N need re-authorization") without reading the others.
            models.Index(
                fields=["-created_at", "-id"],
                condition=models.Q(status="active")
                & (models.Q(remote_valid=False) | models.Q(remote_disabled=True)),
                name="instance_needs_reauth",
            ),
            # The few drifted or deleted-at-Cloud-Elements instances, for the list's filters.
            models.Index(
                fields=["-created_at", "-id"],
                condition=models.Q(drifted=True),
                name="instance_drifted",
            ),
            models.Index(
                fields=["-created_at", "-id"],
                condition=models.Q(remote_missing=True),
                name="instance_remote_missing",
            ),
            models.Index(
                fields=["-created_at", "-id"],
                condition=models.Q(origin="imported"),
                name="instance_imported",
            ),
            # The health sweep reads the instances changed since its last run.
            models.Index(fields=["updated_at"], name="instance_updated"),
            # Search and the events' admin find an instance by its Cloud Elements id alone
            # (the unique index leads with the account: looked up without it, it is read whole).
            models.Index(fields=["remote_id"], name="instance_remote_id"),
            # Search finds an owner by address (the whole address, as stored: lower case).
            models.Index(
                fields=["owner_email"], condition=~models.Q(owner_email=""), name="instance_owner"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs) -> None:
        creating = self._state.adding
        if self.remote_id is not None and not self.account:
            self.account = ce.account()
        super().save(*args, **kwargs)
        if creating:
            # Every instance has webhook settings, with the documented defaults.
            WebhookSettings.objects.get_or_create(instance=self)

    def get_absolute_url(self) -> str:
        return reverse("instances:detail", args=[self.uuid])

    @property
    def is_active(self) -> bool:
        return self.status == self.Status.ACTIVE

    @property
    def is_imported(self) -> bool:
        return self.origin == self.Origin.IMPORTED

    @property
    def unknown_secrets(self) -> list[str]:
        """What Cloud Elements showed masked when this instance was imported and nobody has
        entered here since (re-authorization needs the OAuth app, verifying events the key)."""
        if not self.is_imported:
            return []
        unknown = []
        if self.authentication_type == self.AuthenticationType.OAUTH2:
            if not self.oauth_api_key:
                unknown.append("OAuth client id")
            if not self.oauth_api_secret:
                unknown.append("OAuth client secret")
        elif not self.api_key:
            unknown.append("API key")
        if self.webhook.signature_key_unknown:
            unknown.append("signature key")
        return unknown

    @property
    def masked_oauth_api_secret(self) -> str:
        return parameters.mask(self.oauth_api_secret)

    @property
    def masked_api_key(self) -> str:
        return parameters.mask(self.api_key)

    @property
    def masked_remote_token(self) -> str:
        return parameters.mask(self.remote_token)

    @property
    def extras(self) -> list[tuple[str, object, bool]]:
        """(key, value, secret) of the other parameters, in the element's order."""
        if not self.extra_configuration:
            return []
        return [
            (key, value, bool(secret))
            for key, value, secret in json.loads(self.extra_configuration)
        ]

    def set_extras(self, extras: list[tuple[str, object, bool]]) -> None:
        self.extra_configuration = json.dumps([list(extra) for extra in extras]) if extras else ""

    def shown_extras(self) -> list[tuple[str, object]]:
        """The other parameters as a page may show them: secrets masked."""
        return [
            (key, parameters.mask(str(value)) if secret else value)
            for key, value, secret in self.extras
        ]

    @property
    def other_parameters(self) -> str:
        """The other parameters in one line, secrets masked (the admin shows it)."""
        shown = [f"{k} = {json.dumps(v, ensure_ascii=False)}" for k, v in self.shown_extras()]
        return "; ".join(shown) or "—"

    def tag_names(self) -> list[str]:
        # Uses the prefetch cache when the caller prefetched tags.
        return [tag.name for tag in self.tags.all()]


class WebhookSettings(models.Model):
    """Event notification settings of one instance, as sent to Cloud Elements."""

    instance = models.OneToOneField(
        ElementInstance, on_delete=models.CASCADE, related_name="webhook"
    )
    enabled = models.BooleanField(
        parameters.PARAMETERS["event.notification.enabled"].label,
        default=parameters.PARAMETERS["event.notification.enabled"].default,
        db_index=True,
    )
    callback_url = models.URLField(
        parameters.PARAMETERS["event.notification.callback.url"].label, max_length=500, blank=True
    )
    signature_key = EncryptedTextField(
        parameters.PARAMETERS["event.notification.signature.key"].label, blank=True
    )
    # After a key change, deliveries signed with the old key (Cloud Elements retries for about
    # 72 hours) stay acceptable until this time.
    previous_signature_key = EncryptedTextField(blank=True)
    previous_signature_key_expires_at = models.DateTimeField(null=True, blank=True)
    # Hours without a delivery after which the health sweep calls it silent (None: the
    # SILENT_AFTER_HOURS default): a quiet account may expect days between events.
    quiet_hours = models.PositiveIntegerField(null=True, blank=True)
    # Imported: Cloud Elements holds a key it shows masked, and none was entered here yet, so
    # this instance's deliveries cannot be verified.
    signature_key_unknown = models.BooleanField(default=False)

    # The receiver's raw read (events/ingest.py) hands these fields' values over in the order
    # they are declared here.
    KEY_OVERLAP = timedelta(hours=72)

    class Meta:
        verbose_name = "webhook settings"
        verbose_name_plural = "webhook settings"

    def __str__(self) -> str:
        return f"Events {'on' if self.enabled else 'off'} for {self.instance}"

    @property
    def masked_signature_key(self) -> str:
        return parameters.mask(self.signature_key)

    def replace_signature_key(self, new_key: str) -> None:
        """Change the key, keeping the old one acceptable for KEY_OVERLAP."""
        if self.signature_key and self.signature_key != new_key:
            self.previous_signature_key = self.signature_key
            self.previous_signature_key_expires_at = timezone.now() + self.KEY_OVERLAP
        self.signature_key = new_key

    def accepted_keys(self) -> list[str]:
        """Keys a delivery may be signed with now, current first."""
        keys = [self.signature_key] if self.signature_key else []
        expires = self.previous_signature_key_expires_at
        if self.previous_signature_key and expires and expires > timezone.now():
            keys.append(self.previous_signature_key)
        return keys


class AuditEntry(models.Model):
    class Action(models.TextChoices):
        DRAFTED = "drafted", "Draft saved"
        AUTHORIZING = "authorizing", "Sent to consent screen"
        AUTHORIZATION_DENIED = "authorization_denied", "Authorization denied"
        CREATED = "created", "Created at Cloud Elements"
        REAUTHORIZED = "reauthorized", "Re-authorized"
        EVENTS_ENABLED = "events_enabled", "Events enabled"
        EVENTS_DISABLED = "events_disabled", "Events disabled"
        DISABLED = "disabled", "Disabled at Cloud Elements"
        ENABLED = "enabled", "Enabled at Cloud Elements"
        UPDATED = "updated", "Updated"
        SYNCED = "synced", "Synced"
        DELETED = "deleted", "Deleted"
        REMOTE_ERROR = "remote_error", "Remote error"
        RECONCILED = "reconciled", "Reconciled"
        SECRET_CHANGED = "secret_changed", "Secret changed"
        KEY_REVEALED = "key_revealed", "Signature key revealed"
        IMPORTED = "imported", "Imported from Cloud Elements"
        DRIFTED = "drifted", "Changed at Cloud Elements"
        DELETED_REMOTELY = "deleted_remotely", "Deleted at Cloud Elements"
        SECRET_ENTERED = "secret_entered", "Secret entered"
        EVENTS_REDIRECTED = "events_redirected", "Events sent here"
        LINK_MADE = "link_made", "Consent link made"
        LINK_OPENED = "link_opened", "Consent link opened"
        CONSENT_GIVEN = "consent_given", "Consent given by the account owner"
        CONSENT_REFUSED = "consent_refused", "Consent refused by the account owner"
        LINK_COMPLETED = "link_completed", "Consent link completed"
        LINK_REVOKED = "link_revoked", "Consent link revoked"
        LINK_EXPIRED = "link_expired", "Expired consent link opened"
        OWNER_CHANGED = "owner_changed", "Owner changed"

    class Outcome(models.TextChoices):
        SUCCESS = "success", "Success"
        FAILURE = "failure", "Failure"

    instance = models.ForeignKey(
        ElementInstance, on_delete=models.CASCADE, related_name="audit_entries"
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    action = models.CharField(max_length=32, choices=Action.choices)
    outcome = models.CharField(max_length=16, choices=Outcome.choices, default=Outcome.SUCCESS)
    detail = models.TextField(blank=True)
    request_id = models.CharField("Cloud Elements request id", max_length=100, blank=True)
    # What acted for the actor, when not a page: an API token, a job (lib.audit_context).
    via = models.CharField(max_length=200, blank=True, default=audit_context.current)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "audit entries"
        indexes = [models.Index(fields=["instance", "-created_at"], name="audit_instance_time")]

    def __str__(self) -> str:
        return f"{self.get_action_display()} ({self.get_outcome_display()})"


class OAuthState(models.Model):
    """One pending consent: single use, bound to a session and an instance, short-lived.

    Only hashes are stored: a leaked table row can neither complete a flow nor find a session.
    """

    LIFETIME = timedelta(minutes=10)
    MAX_PENDING_PER_SESSION = 10

    class Purpose(models.TextChoices):
        CREATE = "create", "Create"
        REAUTHORIZE = "reauthorize", "Re-authorize"

    state_hash = models.CharField(max_length=64, unique=True)
    session_hash = models.CharField(max_length=64, db_index=True)
    instance = models.ForeignKey(
        ElementInstance, on_delete=models.CASCADE, related_name="oauth_states"
    )
    element_key = models.CharField(max_length=64)
    purpose = models.CharField(max_length=16, choices=Purpose.choices, default=Purpose.CREATE)
    # Set when the account owner started this consent from a consent link, not the operator.
    consent_link = models.ForeignKey(
        "links.ConsentLink",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="oauth_states",
    )
    created_at = models.DateTimeField(default=timezone.now)
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.get_purpose_display()} consent for {self.instance_id}"

    @property
    def expired(self) -> bool:
        return timezone.now() - self.created_at > self.LIFETIME

    @staticmethod
    def digest(value: str) -> str:
        return hashlib.sha256(value.encode()).hexdigest()
