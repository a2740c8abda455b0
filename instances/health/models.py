"""What is wrong with each instance, kept as it changes (the health sweep writes it), and the
counts the attention page reads (rewritten by each sweep from the open problems only)."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse

PHRASES = {
    "invalid": "became invalid at Cloud Elements",
    "disabled": "were disabled at Cloud Elements",
    "silent": "fell silent",
    "deleted": "were deleted at Cloud Elements",
    "drifted": "were changed at Cloud Elements",
    "signatures": "had deliveries refused for a bad signature",
    "missing": "lost deliveries (notified by Cloud Elements, never received)",
}


class Incident(models.Model):
    """Instances that entered the same problem close together: one thing to be told about.

    Opened by the sweep with the problems it found of one kind; a problem of that kind found
    while it is open joins it; resolved once none of its problems is open and unacknowledged.
    """

    kind = models.CharField(max_length=32)
    opened_at = models.DateTimeField()
    last_joined_at = models.DateTimeField()
    resolved_at = models.DateTimeField(null=True, blank=True)
    instance_count = models.PositiveIntegerField(default=0)
    elements = models.JSONField(default=list, blank=True)
    # An incident about something other than instances (a forwarding destination paused):
    # what it is about ("destination:<id>"), its title and where to look. The sweep neither
    # joins problems to it nor resolves it; its owner does.
    subject = models.CharField(max_length=100, blank=True)
    summary = models.CharField(max_length=300, blank=True)
    subject_url = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-opened_at", "-id"]
        indexes = [
            models.Index(
                fields=["kind"], condition=Q(resolved_at__isnull=True), name="incident_open_kind"
            )
        ]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("health:incident", args=[self.pk])

    @property
    def title(self) -> str:
        if self.summary:
            return self.summary
        element = " and ".join(key.capitalize() for key in self.elements[:3]) or "Element"
        plural = "s" if self.instance_count != 1 else ""
        verb = PHRASES.get(self.kind, self.kind)
        if self.instance_count == 1:
            verb = verb.replace("were ", "was ")
        span = f"{self.opened_at:%Y-%m-%d %H:%M}"
        if self.last_joined_at and self.last_joined_at - self.opened_at > timedelta(minutes=1):
            span = f"between {span} and {self.last_joined_at:%H:%M}"
        else:
            span = f"at {span}"
        return f"{self.instance_count} {element} instance{plural} {verb} {span}"

    @property
    def is_open(self) -> bool:
        return self.resolved_at is None


class Problem(models.Model):
    class Kind(models.TextChoices):
        INVALID = "invalid", "Invalid at Cloud Elements"
        DISABLED = "disabled", "Disabled at Cloud Elements"
        SILENT = "silent", "Silent"
        DELETED = "deleted", "Deleted at Cloud Elements"
        DRIFTED = "drifted", "Changed at Cloud Elements"
        SIGNATURES = "signatures", "Signature failures"
        MISSING = "missing", "Deliveries missing here"

    instance = models.ForeignKey(
        "instances.ElementInstance", on_delete=models.CASCADE, related_name="problems"
    )
    kind = models.CharField(max_length=32, choices=Kind.choices)
    since = models.DateTimeField(help_text="When the sweep first found it.")
    detail = models.TextField(blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    # Acknowledged: out of the counts (until a day, or for good), still shown as a problem.
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    acknowledged_reason = models.TextField(blank=True)
    acknowledged_until = models.DateField(null=True, blank=True)
    incident = models.ForeignKey(
        Incident, null=True, blank=True, on_delete=models.SET_NULL, related_name="problems"
    )

    class Meta:
        ordering = ["-since", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["instance", "kind"],
                condition=Q(resolved_at__isnull=True),
                name="problem_open_once_per_kind",
            )
        ]
        indexes = [
            models.Index(
                fields=["kind", "instance"],
                condition=Q(resolved_at__isnull=True),
                name="problem_open_by_kind",
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} since {self.since:%Y-%m-%d %H:%M}"

    @property
    def is_open(self) -> bool:
        return self.resolved_at is None


class ProblemCount(models.Model):
    """Open, unacknowledged problems of one kind, in all (`dimension` "all"), per element
    (`dimension` "element") or per tag ("tag"). The whole table is rewritten by each sweep."""

    kind = models.CharField(max_length=32, choices=Problem.Kind.choices)
    dimension = models.CharField(max_length=16)
    value = models.CharField(max_length=200, blank=True)
    count = models.PositiveIntegerField()

    class Meta:
        ordering = ["kind", "dimension", "-count", "value"]
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "dimension", "value"], name="problem_count_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.dimension}={self.value}: {self.count}"


class MissingDelivery(models.Model):
    """An event Cloud Elements' log says it NOTIFIED for this instance that the receiver never
    stored. Dropped when it arrives after all (a retry) or after MISSING_KEEP_DAYS."""

    instance = models.ForeignKey(
        "instances.ElementInstance", on_delete=models.CASCADE, related_name="missing_deliveries"
    )
    dedup_key = models.CharField(max_length=200)
    remote_event_id = models.CharField(max_length=200)
    notified_at = models.DateTimeField()
    found_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-notified_at"]
        constraints = [
            models.UniqueConstraint(fields=["instance", "dedup_key"], name="missing_once")
        ]

    def __str__(self) -> str:
        return f"{self.remote_event_id} for {self.instance_id}"


class SweepMark(models.Model):
    """Where the sweep stopped reading changed instances and Cloud Elements' event log."""

    changed_since = models.DateTimeField()
    events_checked_until = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"changes read since {self.changed_since:%Y-%m-%d %H:%M}"
