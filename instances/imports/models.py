"""Instances found at Cloud Elements that are not here yet, waiting for an operator to import them.

Only when IMPORT_NEW_INSTANCES is "review": with "auto", the schedule's scan imports them at once.
"""

from __future__ import annotations

from django.db import models


class DiscoveredInstance(models.Model):
    account = models.CharField("Cloud Elements account", max_length=500)
    remote_id = models.BigIntegerField("Cloud Elements id")
    name = models.CharField(max_length=200)
    element_key = models.CharField("element", max_length=64)
    tags = models.JSONField(default=list, blank=True)
    valid = models.BooleanField(default=True)
    disabled = models.BooleanField(default=False)
    remote_created_at = models.DateTimeField("created at Cloud Elements", null=True, blank=True)
    found_at = models.DateTimeField(auto_now_add=True)
    # The last scan that saw it: one that finished without seeing it drops the row.
    seen_at = models.DateTimeField()

    class Meta:
        ordering = ["-found_at", "-id"]
        verbose_name = "instance new at Cloud Elements"
        verbose_name_plural = "instances new at Cloud Elements"
        constraints = [
            models.UniqueConstraint(
                fields=["account", "remote_id"], name="discovered_account_remote_id_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.element_key} {self.remote_id})"
