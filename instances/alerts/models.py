"""Where incidents are told (channels) and each time one was told (deliveries)."""

from __future__ import annotations

import secrets

from django.db import models
from django.db.models import Q

from instances.lib.fields import EncryptedTextField


def new_signing_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


class Channel(models.Model):
    class Kind(models.TextChoices):
        EMAIL = "email", "E-mail"
        WEBHOOK = "webhook", "Webhook (JSON, signed; a Slack incoming-webhook URL works as is)"

    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    target = models.TextField(
        help_text="E-mail: addresses separated by commas. Webhook: the https:// URL to POST to."
    )
    signing_secret = EncryptedTextField(default=new_signing_secret)
    # Filters: empty means every problem, element or tag.
    problem_kinds = models.JSONField(default=list, blank=True)
    element = models.CharField(max_length=64, blank=True)
    tag = models.CharField(max_length=100, blank=True)
    enabled = models.BooleanField(default=True)
    # A channel whose deliveries keep failing is flagged (and un-flagged by its next success).
    consecutive_failures = models.PositiveIntegerField(default=0)
    flagged_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def recipients(self) -> list[str]:
        return [a.strip() for a in self.target.replace("\n", ",").split(",") if a.strip()]


class Delivery(models.Model):
    class Event(models.TextChoices):
        OPENED = "opened", "Incident opened"
        RESOLVED = "resolved", "Incident resolved"
        REMINDER = "reminder", "Reminder"
        TEST = "test", "Test"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"

    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="deliveries")
    incident = models.ForeignKey(
        "health.Incident",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="deliveries",
    )
    event = models.CharField(max_length=16, choices=Event.choices)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    response_status = models.PositiveIntegerField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "deliveries"
        constraints = [
            # Told once that it opened and once that it resolved, per channel.
            models.UniqueConstraint(
                fields=["channel", "incident", "event"],
                condition=Q(event__in=["opened", "resolved"]),
                name="alert_once_per_incident_event",
            )
        ]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(status="pending"),
                name="alert_pending_due",
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_event_display()} to {self.channel}: {self.get_status_display()}"
