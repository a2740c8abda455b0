"""Consent links: what an operator sends to an account's owner, who consents without a login."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import timezone

from instances.lib.fields import EncryptedTextField
from instances.models import ElementInstance, OAuthState


class ConsentLinkQuerySet(models.QuerySet):
    def open(self) -> ConsentLinkQuerySet:
        """Neither used nor revoked (possibly expired): at most one per instance."""
        return self.filter(used_at__isnull=True, revoked_at__isnull=True)

    def live(self) -> ConsentLinkQuerySet:
        """Usable now: open and not expired."""
        return self.open().filter(expires_at__gt=timezone.now())


class ConsentLink(models.Model):
    """A link an operator sends to the Dropbox account's owner, who consents without a login.

    Found by the SHA-256 of its token (like a password-reset token). The token itself is also
    kept, encrypted at rest, only so that the operator can copy the link again.
    """

    Purpose = OAuthState.Purpose

    instance = models.ForeignKey(
        ElementInstance, on_delete=models.CASCADE, related_name="consent_links"
    )
    purpose = models.CharField(max_length=16, choices=Purpose.choices, default=Purpose.CREATE)
    token_hash = models.CharField(max_length=64, unique=True)
    token = EncryptedTextField()
    note = models.CharField(
        "for", max_length=200, blank=True, help_text="Who the link is for, for your reference."
    )
    success_url = models.URLField("after consent, send the owner to", max_length=500, blank=True)
    error_url = models.URLField("after a refusal, send the owner to", max_length=500, blank=True)
    expires_at = models.DateTimeField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(default=timezone.now)
    opened_at = models.DateTimeField(null=True, blank=True)
    used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    expiry_recorded_at = models.DateTimeField(null=True, blank=True)

    objects = ConsentLinkQuerySet.as_manager()

    class Meta:
        db_table = "instances_consentlink"
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["instance"],
                condition=models.Q(used_at__isnull=True, revoked_at__isnull=True),
                name="consent_link_one_open_per_instance",
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_purpose_display()} link for {self.instance_id}"

    def get_absolute_url(self) -> str:
        """The link to send, on the dashboard's public address (never the request's host)."""
        return settings.SITE_URL + reverse("links:connect", args=[self.token])

    @property
    def is_expired(self) -> bool:
        return self.expires_at <= timezone.now()

    @property
    def is_live(self) -> bool:
        return self.used_at is None and self.revoked_at is None and not self.is_expired

    @property
    def state(self) -> str:
        if self.used_at:
            return "used"
        if self.revoked_at:
            return "revoked"
        return "expired" if self.is_expired else "live"
