"""Campaigns in the admin: listed and shown, read-only (they are started and stopped on the
dashboard, whose page shows the funnel and each instance)."""

from __future__ import annotations

from django.contrib import admin
from django.utils.html import format_html

from instances import admin_lists
from instances.campaigns.models import FUNNEL, Campaign


@admin.register(Campaign)
class CampaignAdmin(admin_lists.ReadOnlyAdmin):
    list_display = (
        "name",
        "status",
        "purpose",
        "delivery",
        "links_made",
        "emails_sent",
        "completed",
        "expires_at",
        "created_at",
    )
    list_filter = ("status", "purpose", "delivery")
    search_fields = ("name",)
    fields = (
        "dashboard",
        "name",
        "purpose",
        "delivery",
        "status",
        "message",
        "expires_at",
        "reminder_days",
        "reminders_done",
        "next_reminder_at",
        "selected",
        "skipped",
        "not_sent",
        *(field for field, _ in FUNNEL),
        "reminders_sent",
        "revoked",
        "created_by",
        "created_at",
        "stopped_at",
        "stopped_by",
    )
    readonly_fields = fields

    @admin.display(description="On the dashboard")
    def dashboard(self, obj: Campaign) -> str:
        return format_html('<a href="{}">The campaign\'s page</a>', obj.get_absolute_url())
