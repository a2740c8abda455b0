"""Each element's description as Cloud Elements last gave it, kept so that a form is built
without a remote call while a page renders."""

from __future__ import annotations

from django.db import models


class ElementMetadata(models.Model):
    """`GET /elements/{key}` and `GET /elements/{key}/metadata`, as read at `fetched_at`."""

    key = models.CharField(max_length=100, unique=True)
    name = models.CharField(max_length=200)
    element = models.JSONField()
    metadata = models.JSONField()
    fetched_at = models.DateTimeField()

    class Meta:
        ordering = ["name", "key"]
        verbose_name = "element metadata"
        verbose_name_plural = "element metadata"

    def __str__(self) -> str:
        return f"{self.name} ({self.key})"


class ListedElement(models.Model):
    """An element as `GET /elements` last listed it: what a new instance is chosen from."""

    key = models.CharField(max_length=100, unique=True)
    name = models.CharField(max_length=200)
    listed_at = models.DateTimeField()

    class Meta:
        ordering = ["name", "key"]

    def __str__(self) -> str:
        return f"{self.name} ({self.key})"
