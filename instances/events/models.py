"""Deliveries received from Cloud Elements, and their per-day counts kept on ingest."""

from __future__ import annotations

import json

from django.db import models
from django.urls import reverse
from django.utils import timezone

from instances.models import ElementInstance


class EventNotification(models.Model):
    """One delivery received from Cloud Elements, stored once (see `dedup_key`)."""

    class Signature(models.TextChoices):
        # A delivery with a bad signature is refused, never stored.
        VERIFIED = "verified", "Verified"
        VERIFIED_PREVIOUS_KEY = "verified_previous", "Verified (previous key)"
        UNSIGNED = "unsigned", "Unsigned"

    # No index of its own: the two indexes below lead with instance_id and serve every lookup
    # by instance (and the cascade); a third would cost every delivery one more index update.
    instance = models.ForeignKey(
        ElementInstance, on_delete=models.CASCADE, related_name="events", db_index=False
    )
    dedup_key = models.CharField(max_length=200)
    remote_event_id = models.CharField("event id", max_length=200, blank=True)
    webhook_id = models.CharField("Elements-Webhook-Id", max_length=200, blank=True)
    signature = models.CharField(max_length=20, choices=Signature.choices)
    # No index of its own: the admin's filter walks the time index (a third of the rows are of
    # each common type), and each index costs every delivery an update.
    event_type = models.CharField(max_length=32, blank=True)
    object_type = models.CharField(max_length=100, blank=True)
    object_id = models.CharField(max_length=500, blank=True)
    events = models.JSONField(default=list)
    body = models.TextField()
    received_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "instances_eventnotification"
        ordering = ["-received_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["instance", "dedup_key"], name="event_dedup_per_instance"
            )
        ]
        # Both orders the pages read (all deliveries, one instance's), id as the tie-break so
        # that keyset paging walks the index without re-sorting.
        indexes = [
            models.Index(fields=["-received_at", "-id"], name="event_time_id"),
            models.Index(fields=["instance", "-received_at", "-id"], name="event_instance_time"),
        ]

    def __str__(self) -> str:
        return f"{self.event_type or 'event'} {self.object_id}".strip()

    def get_absolute_url(self) -> str:
        return reverse("events:detail", args=[self.instance.uuid, self.pk])

    @property
    def pretty_body(self) -> str:
        """The raw body, indented for reading (as received if it is not JSON)."""
        try:
            return json.dumps(json.loads(self.body), indent=2, ensure_ascii=False)
        except (ValueError, RecursionError):
            return self.body

    @property
    def is_verified(self) -> bool:
        return self.signature != self.Signature.UNSIGNED


class EventDailyCount(models.Model):
    """Deliveries stored per instance and (local) day, kept on ingest.

    The instance page's chart and total, and the list's "last event", read these few rows
    instead of scanning the events table. Only the receiver's storage (`ingest.store_delivery`)
    writes them, in the same statement as the event; `purge_events` trims them.
    """

    instance = models.ForeignKey(
        ElementInstance, on_delete=models.CASCADE, related_name="daily_event_counts"
    )
    day = models.DateField()
    count = models.PositiveIntegerField(default=0)
    last_received_at = models.DateTimeField()

    class Meta:
        db_table = "instances_eventdailycount"
        ordering = ["instance", "-day"]
        constraints = [
            models.UniqueConstraint(fields=["instance", "day"], name="event_daily_count_unique")
        ]

    def __str__(self) -> str:
        return f"{self.instance_id} {self.day}: {self.count}"


class SignatureRefusal(models.Model):
    """Signed deliveries the receiver refused for an instance (the signature did not match any
    of its keys), counted per hour: the health sweep turns a burst into a problem."""

    instance = models.ForeignKey(
        ElementInstance, on_delete=models.CASCADE, related_name="signature_refusals"
    )
    hour = models.DateTimeField()
    count = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-hour"]
        constraints = [
            models.UniqueConstraint(fields=["instance", "hour"], name="signature_refusal_hour")
        ]
        indexes = [models.Index(fields=["hour"], name="signature_refusal_by_hour")]

    def __str__(self) -> str:
        return f"{self.instance_id} {self.hour:%Y-%m-%d %H}:00: {self.count}"
