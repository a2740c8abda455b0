"""Where received events go next (destinations), each event's delivery to each of them, and
every attempt at it.

The deliveries are the forwarding queue. The receiver, in the statement that stores the event
(`outbox.py`), writes only a narrow `Queued` row per matching destination; the forwarder
(`sender.py`) turns those into deliveries a batch at a time, claims the due ones, and writes
back what it did, one `Attempt` row per try.
"""

from __future__ import annotations

import base64
import secrets
from urllib.parse import urlsplit

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.urls import reverse

from instances.lib.fields import EncryptedTextField


def new_signing_secret() -> str:
    """A Standard Webhooks secret: `whsec_` and 32 random bytes in base64."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def default_max_in_flight() -> int:
    return settings.DESTINATION_MAX_IN_FLIGHT


class Destination(models.Model):
    """An address of the team's own app that receives the events, signed and retried."""

    name = models.CharField(max_length=100)
    url = models.CharField("URL", max_length=2000)
    signing_secret = EncryptedTextField(default=new_signing_secret)
    # After a rotation the old secret signs too (a second signature) until this time.
    previous_signing_secret = EncryptedTextField(blank=True, default="")
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True)
    # Filters, each empty for "every": element keys, tag names (lower case), Cloud Elements
    # event types (CREATED, UPDATED, DELETED, …) and instances.
    element_keys = models.JSONField(default=list, blank=True)
    tags = models.JSONField(default=list, blank=True)
    event_types = models.JSONField(default=list, blank=True)
    instances = models.ManyToManyField(
        "instances.ElementInstance", blank=True, related_name="destinations"
    )
    max_in_flight = models.PositiveSmallIntegerField(
        "deliveries in flight at most",
        default=default_max_in_flight,
        validators=[MinValueValidator(1), MaxValueValidator(100)],
    )
    # Paused: deliveries keep queueing and are sent once it is resumed.
    paused_at = models.DateTimeField(null=True, blank=True)
    paused_reason = models.CharField(max_length=300, blank=True)
    # Since when every attempt failed (cleared by a success): past
    # DESTINATION_DISABLE_AFTER_HOURS the destination is paused and an alert raised.
    failing_since = models.DateTimeField(null=True, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    last_failure_at = models.DateTimeField(null=True, blank=True)
    last_failure = models.CharField(max_length=300, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(auto_now_add=True)
    # Deleted: kept for the deliveries' history, never sent to again.
    deleted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("forwarding:detail", args=[self.pk])

    @property
    def is_paused(self) -> bool:
        return self.paused_at is not None

    @property
    def host(self) -> str:
        """The URL's host, which logs and messages name instead of the whole URL (its path
        or query may hold a token)."""
        return urlsplit(self.url).hostname or "?"

    @property
    def masked_secret(self) -> str:
        secret = self.signing_secret
        return f"{secret[:10]}…{secret[-4:]}" if secret else ""


class Delivery(models.Model):
    """One event to one destination: the unit the forwarder sends, retries and records."""

    class State(models.TextChoices):
        PENDING = "pending", "Pending"
        SENDING = "sending", "Sending"
        DELIVERED = "delivered", "Delivered"
        REFUSED = "refused", "Refused"
        FAILED = "failed", "Failed"

    # No index of its own: the unique (event, destination) serves every lookup by event, and
    # each index costs the receiver's insert.
    event = models.ForeignKey(
        "events.EventNotification",
        on_delete=models.CASCADE,
        related_name="deliveries",
        db_index=False,
    )
    destination = models.ForeignKey(
        Destination, on_delete=models.CASCADE, related_name="deliveries", db_index=False
    )
    state = models.CharField(max_length=16, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    # While sending: the forwarder that claimed it holds it until then; after that (it died),
    # the delivery is claimed again.
    lease_until = models.DateTimeField(null=True, blank=True)
    # The retry window counts from the first attempt (not from the queueing: a delivery queued
    # while the destination was paused still gets its whole window once it is resumed).
    first_attempt_at = models.DateTimeField(null=True, blank=True)
    last_status = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "deliveries"
        constraints = [
            models.UniqueConstraint(fields=["event", "destination"], name="delivery_once"),
        ]
        indexes = [
            # The forwarder's claim: a destination's due deliveries, oldest first.
            models.Index(
                fields=["destination", "next_attempt_at"],
                condition=Q(state="pending"),
                name="delivery_due",
            ),
            # Deliveries in flight, counted against the destination's limit (a handful of rows).
            models.Index(
                fields=["destination", "lease_until"],
                condition=Q(state="sending"),
                name="delivery_sending",
            ),
            # The destination page: newest first, all or in one state.
            models.Index(
                fields=["destination", "-created_at", "-id"], name="delivery_by_destination"
            ),
            models.Index(
                fields=["destination", "state", "-created_at", "-id"], name="delivery_by_state"
            ),
        ]

    def __str__(self) -> str:
        return f"event {self.event_id} → {self.destination_id}: {self.state}"


class Queued(models.Model):
    """An event the receiver queued for a destination, not yet a `Delivery`.

    The receiver's insert is the hot path: this table has its primary key and nothing else (no
    other index, no foreign key check), where a delivery row updates five indexes. The
    forwarder moves these rows into deliveries a batch at a time (`sender.promote`), skipping
    an event purged or a destination deleted meanwhile.
    """

    id = models.BigAutoField(primary_key=True)
    event = models.ForeignKey(
        "events.EventNotification",
        on_delete=models.DO_NOTHING,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    destination = models.ForeignKey(
        Destination,
        on_delete=models.DO_NOTHING,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    queued_at = models.DateTimeField()

    class Meta:
        verbose_name_plural = "queued"

    def __str__(self) -> str:
        return f"event {self.event_id} → {self.destination_id}: queued"


class Attempt(models.Model):
    """One try at a delivery: when, how long, what came back."""

    class Outcome(models.TextChoices):
        DELIVERED = "delivered", "Delivered"
        RETRY = "retry", "Failed, will retry"
        REFUSED = "refused", "Refused (not retried)"
        GAVE_UP = "gave_up", "Failed, gave up"
        INTERRUPTED = "interrupted", "Interrupted (the forwarder stopped)"

    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="attempt_log")
    number = models.PositiveIntegerField()
    started_at = models.DateTimeField()
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    status = models.PositiveSmallIntegerField(null=True, blank=True)
    outcome = models.CharField(max_length=16, choices=Outcome.choices)
    error = models.CharField(max_length=300, blank=True)
    # The first bytes of the answer, as text.
    response = models.TextField(blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["delivery", "-number"]

    def __str__(self) -> str:
        return f"attempt {self.number} of delivery {self.delivery_id}: {self.outcome}"
