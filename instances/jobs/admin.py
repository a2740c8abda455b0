"""Jobs in the admin: read-only, each linking to its progress page."""

from __future__ import annotations

from django.contrib import admin
from django.utils.html import format_html

from instances import admin_lists
from instances.jobs.models import Job


@admin.register(Job)
class JobAdmin(admin_lists.ReadOnlyAdmin):
    """Jobs, read-only: started from the lists, watched on their page (which lists the failures;
    the items themselves are not inlined here, a job may hold thousands)."""

    list_display = ("pk", "kind", "status", "done", "total", "failed", "created_by", "created_at")
    list_filter = ("kind", "status")
    list_select_related = ("created_by",)
    fields = (
        "kind",
        "status",
        "created_by",
        "created_at",
        "started_at",
        "finished_at",
        "total",
        "done",
        "failed",
        "retry_of",
        "attempts",
        "job_page",
    )
    readonly_fields = fields
    date_hierarchy = "created_at"

    @admin.display(description="Progress page")
    def job_page(self, obj: Job):
        return format_html('<a href="{}">Open the job page</a>', obj.get_absolute_url())
