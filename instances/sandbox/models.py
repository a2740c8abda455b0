"""The sandbox's own state: what Cloud Elements and Dropbox would hold for us."""

from __future__ import annotations

import json
import secrets
from datetime import timedelta

from django.db import models
from django.utils import timezone

from instances.lib.fields import EncryptedTextField
from instances.parameters import MASKED, SECRET_PARAMETERS

CODE_LIFETIME = timedelta(minutes=10)

# Entries Cloud Elements reports in an instance's configuration even when they were not sent,
# with their documented defaults (cloud-elements-api.md section 4, "Other configuration keys",
# and the Dropbox parameter table: events default to false, null filtering to true).
CONFIGURATION_DEFAULTS: dict[str, object] = {
    "event.notification.enabled": False,
    "filter.response.nulls": True,
}


class SandboxApp(models.Model):
    """A Dropbox app as registered in its App Console: key, secret and redirect URIs."""

    client_id = models.CharField(max_length=200, unique=True)
    client_secret = EncryptedTextField()
    redirect_uris = models.JSONField(default=list)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.client_id


class SandboxAuthCode(models.Model):
    """A single-use authorization code issued by the consent screen."""

    code = models.CharField(max_length=64, unique=True)
    app = models.ForeignKey(SandboxApp, on_delete=models.CASCADE, related_name="codes")
    redirect_uri = models.URLField(max_length=500)
    issued_at = models.DateTimeField(default=timezone.now)
    used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"code for {self.app}"

    @classmethod
    def issue(cls, *, app: SandboxApp, redirect_uri: str) -> SandboxAuthCode:
        return cls.objects.create(
            code=secrets.token_urlsafe(24), app=app, redirect_uri=redirect_uri
        )

    @property
    def expired(self) -> bool:
        return timezone.now() - self.issued_at > CODE_LIFETIME


class SandboxInstance(models.Model):
    """An element instance as Cloud Elements keeps it."""

    element_key = models.CharField(max_length=64)
    name = models.CharField(max_length=200)
    token = EncryptedTextField()
    tags = models.JSONField(default=list)
    # Plain configuration values; secret ones live encrypted in `secret_configuration`.
    configuration = models.JSONField(default=dict)
    secret_configuration = EncryptedTextField(blank=True)
    # Stable ids for GET /instances/{id}/configuration entries.
    configuration_ids = models.JSONField(default=dict)
    valid = models.BooleanField(default=True)
    disabled = models.BooleanField(default=False)
    # Changes "in the connected Dropbox" that Cloud Elements has not fetched yet: Dropbox's
    # own notification carries only account ids, so the details wait here (section 7).
    pending_changes = models.JSONField(default=list)
    # After the last failed retry "the event subscription is deactivated, and future events
    # are queued" (section 6).
    subscription_active = models.BooleanField(default=True)
    created_date = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.element_key} instance {self.id}: {self.name}"

    @staticmethod
    def new_token() -> str:
        return secrets.token_urlsafe(32)

    def full_configuration(self) -> dict[str, object]:
        merged = dict(self.configuration)
        if self.secret_configuration:
            merged.update(json.loads(self.secret_configuration))
        return merged

    @property
    def dropbox_account(self) -> str:
        """The Dropbox account behind this instance (one sandbox account per instance)."""
        return f"dbid:sandbox-{self.id}"

    def set_configuration(self, values: dict[str, object]) -> None:
        plain = {k: v for k, v in values.items() if k not in SECRET_PARAMETERS}
        hidden = {k: v for k, v in values.items() if k in SECRET_PARAMETERS}
        self.configuration = plain
        self.secret_configuration = json.dumps(hidden) if hidden else ""
        next_id = max(self.configuration_ids.values(), default=0) + 1
        for key in sorted({*values, *CONFIGURATION_DEFAULTS}):
            if key not in self.configuration_ids:
                self.configuration_ids[key] = next_id
                next_id += 1

    def masked_configuration(self) -> dict[str, object]:
        return {
            key: (MASKED if key in SECRET_PARAMETERS and value not in (None, "") else value)
            for key, value in self.full_configuration().items()
        }

    @property
    def events_enabled(self) -> bool:
        value = self.full_configuration().get("event.notification.enabled", False)
        if isinstance(value, str):
            return value.strip().lower() == "true"
        return bool(value)


class SandboxDelivery(models.Model):
    """One event notification the sandbox sent (or tried to send) to a callback URL."""

    instance = models.ForeignKey(
        SandboxInstance, on_delete=models.CASCADE, related_name="deliveries"
    )
    event_id = models.CharField(max_length=64)
    webhook_id = models.CharField(max_length=64)
    url = models.URLField(max_length=500)
    body = models.TextField()
    status_code = models.IntegerField(null=True, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"delivery {self.event_id} -> {self.status_code or self.error}"


class SandboxEvent(models.Model):
    """One event Cloud Elements recorded for an instance (the event log of section 5)."""

    NEW = "NEW"
    RECEIVED = "RECEIVED"
    DISPATCHED = "DISPATCHED"
    CONSUMED = "CONSUMED"
    NOTIFIED = "NOTIFIED"
    STATUSES = [(s, s) for s in (NEW, RECEIVED, DISPATCHED, CONSUMED, NOTIFIED)]

    instance = models.ForeignKey(SandboxInstance, on_delete=models.CASCADE, related_name="events")
    event_date = models.DateTimeField(default=timezone.now)
    status = models.CharField(max_length=16, choices=STATUSES, default=NEW)
    provider_data = models.JSONField(default=dict)
    notified_data = models.JSONField(null=True, blank=True)
    # Failed notifications: how many attempts were made and when the next retry is due.
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    queued = models.BooleanField(default=False)

    class Meta:
        ordering = ["-event_date", "-id"]

    def __str__(self) -> str:
        return f"event {self.id} ({self.status})"
