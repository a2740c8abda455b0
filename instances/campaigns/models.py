"""Re-consent campaigns: one consent link per instance, one e-mail per owner, and the funnel.

The funnel's counts live on the campaign and move as things happen (a link made, an e-mail
sent, a link opened, consent given, ...): the campaign page reads one row, whatever the size.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.urls import reverse

from instances.links.models import ConsentLink
from instances.models import ElementInstance

# The funnel, in order: (counter field, label).
FUNNEL = (
    ("links_made", "Links made"),
    ("emails_sent", "E-mails sent"),
    ("emails_failed", "E-mails failed"),
    ("opened", "Opened"),
    ("consent_given", "Consent given"),
    ("refused", "Refused"),
    ("completed", "Completed"),
    ("expired", "Expired"),
)


class Campaign(models.Model):
    class Purpose(models.TextChoices):
        REAUTHORIZE = "reauthorize", "Re-authorize active instances"
        CREATE = "create", "First consent for drafts"

    class Delivery(models.TextChoices):
        EMAIL = "email", "E-mail each instance's owner"
        EXPORT = "export", "Export a CSV to send through our own channel"

    class Status(models.TextChoices):
        PREPARING = "preparing", "Making links"
        RUNNING = "running", "Running"
        STOPPED = "stopped", "Stopped"
        FINISHED = "finished", "Finished (links expired)"

    name = models.CharField(max_length=200)
    purpose = models.CharField(max_length=16, choices=Purpose.choices)
    message = models.TextField(
        blank=True, max_length=2000, help_text="Said to every owner above the links."
    )
    delivery = models.CharField(max_length=16, choices=Delivery.choices, default=Delivery.EMAIL)
    expires_at = models.DateTimeField("links expire at")
    # Days after the first e-mail on which owners who have not completed are reminded.
    reminder_days = models.JSONField(default=list, blank=True)
    reminders_done = models.PositiveSmallIntegerField(default=0)
    next_reminder_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PREPARING)
    # Which instances: {"query": ..., "words": [...]} (a filter) or {"ids": [...]} (checked).
    scope = models.JSONField(default=dict, blank=True)
    job = models.ForeignKey(
        "jobs.Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(auto_now_add=True)
    mailed_at = models.DateTimeField("first e-mails sent", null=True, blank=True)
    stopped_at = models.DateTimeField(null=True, blank=True)
    stopped_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    # The funnel (see FUNNEL), and the instances left out.
    selected = models.PositiveIntegerField(default=0)
    skipped = models.PositiveIntegerField(default=0)
    not_sent = models.PositiveIntegerField(default=0)
    links_made = models.PositiveIntegerField(default=0)
    emails_sent = models.PositiveIntegerField(default=0)
    emails_failed = models.PositiveIntegerField(default=0)
    reminders_sent = models.PositiveIntegerField(default=0)
    opened = models.PositiveIntegerField(default=0)
    consent_given = models.PositiveIntegerField(default=0)
    refused = models.PositiveIntegerField(default=0)
    completed = models.PositiveIntegerField(default=0)
    expired = models.PositiveIntegerField(default=0)
    revoked = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "next_reminder_at"], name="campaign_due")]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("campaigns:detail", args=[self.pk])

    @property
    def is_open(self) -> bool:
        return self.status in (self.Status.PREPARING, self.Status.RUNNING)

    def funnel(self) -> list[tuple[str, str, int]]:
        return [(field, label, getattr(self, field)) for field, label in FUNNEL]


class Mailing(models.Model):
    """One owner's e-mail in a campaign: the first one, then the reminders, with retries."""

    class Status(models.TextChoices):
        DUE = "due", "To send"
        SENT = "sent", "Sent"
        RETRYING = "retrying", "Retrying"
        FAILED = "failed", "Failed"
        NONE = "none", "Nothing to send"

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="mailings")
    email = models.EmailField(max_length=254)
    name = models.CharField(max_length=200, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DUE)
    # Which e-mail is due: 0 the first, n the n-th reminder.
    round = models.PositiveSmallIntegerField(default=0)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_try_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    reminders_sent = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["email"]
        constraints = [
            models.UniqueConstraint(fields=["campaign", "email"], name="mailing_once_per_owner")
        ]
        indexes = [models.Index(fields=["campaign", "status", "next_try_at"], name="mailing_due")]

    def __str__(self) -> str:
        return self.email


class Recipient(models.Model):
    """One instance in a campaign: its link, its owner's e-mail, and how far it got."""

    class State(models.TextChoices):
        SKIPPED = "skipped", "Skipped"
        NOT_SENT = "not_sent", "Not sent"
        WAITING = "waiting", "Link made"
        SENT = "sent", "E-mail sent"
        FAILED = "failed", "E-mail failed"
        OPENED = "opened", "Opened"
        CONSENTED = "consented", "Consent given"
        REFUSED = "refused", "Refused"
        COMPLETED = "completed", "Completed"
        EXPIRED = "expired", "Expired"
        REVOKED = "revoked", "Revoked"

    # States in which the owner may still act on the link.
    OPEN_STATES = (
        State.WAITING,
        State.SENT,
        State.FAILED,
        State.OPENED,
        State.CONSENTED,
        State.REFUSED,
    )

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="recipients")
    instance = models.ForeignKey(
        ElementInstance, on_delete=models.CASCADE, related_name="campaign_recipients"
    )
    link = models.OneToOneField(
        ConsentLink,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="campaign_recipient",
    )
    mailing = models.ForeignKey(
        Mailing, null=True, blank=True, on_delete=models.SET_NULL, related_name="recipients"
    )
    state = models.CharField(max_length=16, choices=State.choices, default=State.WAITING)
    reason = models.CharField(max_length=300, blank=True)
    opened_at = models.DateTimeField(null=True, blank=True)
    consented_at = models.DateTimeField(null=True, blank=True)
    refused_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "instance"], name="recipient_once_per_campaign"
            )
        ]
        indexes = [models.Index(fields=["campaign", "state"], name="recipient_state")]

    def __str__(self) -> str:
        return f"{self.instance_id} in campaign {self.campaign_id}"
