"""Jobs: long work over many instances, run by a task worker, with exact progress.

A Job is the operator's request ("turn events on for these 300"); a JobItem is one instance in
it. Progress, cancel, "retry the failed ones" and resuming after a worker died all read the items.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.urls import reverse

from instances.lib import audit_context


class Job(models.Model):
    class Kind(models.TextChoices):
        EVENTS_ON = "events_on", "Turn events on"
        EVENTS_OFF = "events_off", "Turn events off"
        SYNC = "sync", "Sync from Cloud Elements"
        SYNC_ALL = "sync_all", "Sync all from Cloud Elements"
        HEALTH_CHECK = "health_check", "Health check"
        DISABLE = "disable", "Disable at Cloud Elements"
        ENABLE = "enable", "Enable at Cloud Elements"
        IMPORT = "import", "Import from Cloud Elements"
        DISCOVER = "discover", "Look for changes at Cloud Elements"
        CAMPAIGN = "campaign", "Re-consent campaign"
        REPLAY = "replay", "Replay events to a destination"

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        CANCELLED = "cancelled", "Cancelled"
        FAILED = "failed", "Failed"

    kind = models.CharField(max_length=32, choices=Kind.choices)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    cancelled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    # The job this one retries the failed items of, if any.
    retry_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="retries"
    )
    total = models.PositiveIntegerField(default=0)
    done = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    # Instances the action did not apply to (a draft has nothing at Cloud Elements), with the
    # reason on each item: counted apart, never as done.
    skipped = models.PositiveIntegerField(default=0)
    # A job started from the list's filter: the query string it ran on. Its items are made by
    # the worker (not from thousands of ids in a form); `items_ready` says they are.
    scope = models.JSONField(default=dict, blank=True)
    items_ready = models.BooleanField(default=True)
    # Jobs over the account rather than over instances (import, discovery): where to resume
    # (the next page's token), what was found so far, and why the job stopped.
    cursor = models.TextField(blank=True)
    summary = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    # The worker's lease, renewed after every item; past it the job counts as abandoned.
    # What started it for `created_by`, when not a page (an API token): its history names it.
    via = models.CharField(max_length=200, blank=True, default=audit_context.current)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)

    class Meta:
        db_table = "instances_job"
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "lease_expires_at"])]

    def __str__(self) -> str:
        return f"Job {self.pk}: {self.get_kind_display()}"

    def get_absolute_url(self) -> str:
        return reverse("jobs:detail", args=[self.pk])

    @property
    def finished(self) -> bool:
        return self.status in (self.Status.DONE, self.Status.CANCELLED, self.Status.FAILED)


class JobItem(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        # Sent to Cloud Elements, answer not recorded yet: after a crash it is read back.
        IN_FLIGHT = "in_flight", "In flight"
        OK = "ok", "Done"
        FAILED = "failed", "Failed"
        SKIPPED = "skipped", "Skipped"

    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="items")
    instance = models.ForeignKey(
        "instances.ElementInstance", on_delete=models.CASCADE, related_name="job_items"
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    message = models.TextField(blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "instances_jobitem"
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["job", "instance"], name="job_item_once_per_job")
        ]
        indexes = [models.Index(fields=["job", "status"])]

    def __str__(self) -> str:
        return f"{self.job_id}/{self.instance_id}: {self.status}"


class ScheduleRun(models.Model):
    """One run of a schedule per period: the unique pair is the lock between schedulers."""

    name = models.CharField(max_length=64)
    period_start = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "instances_schedulerun"
        ordering = ["-period_start"]
        constraints = [
            models.UniqueConstraint(fields=["name", "period_start"], name="schedule_run_once")
        ]

    def __str__(self) -> str:
        return f"{self.name} @ {self.period_start:%Y-%m-%d %H:%M}"
