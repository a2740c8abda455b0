"""API tokens in the admin: listed read-only (made and revoked on the API tokens page)."""

from __future__ import annotations

from django.contrib import admin

from instances import admin_lists
from instances.api.models import ApiToken


@admin.register(ApiToken)
class ApiTokenAdmin(admin_lists.ReadOnlyAdmin):
    list_display = ("name", "prefix", "user", "scopes", "expires_at", "last_used_at", "revoked_at")
    list_filter = ("revoked_at",)
    search_fields = ("name", "prefix", "user__username")
    fields = (
        "name",
        "prefix",
        "user",
        "scopes",
        "expires_at",
        "created_at",
        "last_used_at",
        "last_used_from",
        "revoked_at",
    )
    readonly_fields = fields
    list_select_related = ("user",)
