"""Instances new at Cloud Elements, for review in the admin (importing is on the dashboard)."""

from __future__ import annotations

from django.contrib import admin

from instances import admin_lists
from instances.imports.models import DiscoveredInstance


@admin.register(DiscoveredInstance)
class DiscoveredInstanceAdmin(admin_lists.ReadOnlyAdmin):
    list_display = ("name", "element_key", "remote_id", "valid", "disabled", "found_at")
    list_filter = ("element_key", "valid", "disabled")
    search_fields = ("name",)
    paginator = admin_lists.EstimatedCountPaginator
    show_full_result_count = False
