"""Destinations and their deliveries in the admin: listed and shown, read-only (they are
managed on the dashboard's Forwarding pages, which reveal and rotate the secret)."""

from __future__ import annotations

from django.contrib import admin
from django.utils.html import format_html

from instances import admin_lists
from instances.forwarding.models import Attempt, Delivery, Destination


@admin.register(Destination)
class DestinationAdmin(admin_lists.ReadOnlyAdmin):
    list_display = ("name", "host", "state", "failing_since", "last_success_at", "created_at")
    search_fields = ("name",)
    fields = (
        "dashboard",
        "name",
        "url",
        "masked_secret",
        "element_keys",
        "tags",
        "event_types",
        "max_in_flight",
        "paused_at",
        "paused_reason",
        "failing_since",
        "last_success_at",
        "last_failure_at",
        "last_failure",
        "created_by",
        "created_at",
        "deleted_at",
    )
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).filter(deleted_at__isnull=True)

    @admin.display(description="state")
    def state(self, obj: Destination) -> str:
        return "paused" if obj.is_paused else "failing" if obj.failing_since else "active"

    @admin.display(description="signing secret")
    def masked_secret(self, obj: Destination) -> str:
        return obj.masked_secret

    @admin.display(description="on the dashboard")
    def dashboard(self, obj: Destination) -> str:
        return format_html('<a href="{}">Open its page</a>', obj.get_absolute_url())


class AttemptInline(admin.TabularInline):
    model = Attempt
    fields = ("number", "started_at", "status", "duration_ms", "outcome", "error", "response")
    readonly_fields = fields
    extra = 0
    can_delete = False
    ordering = ("-number",)

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Delivery)
class DeliveryAdmin(admin_lists.ReadOnlyAdmin):
    list_display = ("created_at", "event", "destination", "state", "attempts", "last_status")
    list_filter = ("state", "destination")
    list_select_related = ("event", "destination")
    # In the order of an index (`delivery_by_destination`): newest first over all deliveries
    # read the whole table (2.5x at 1M).
    ordering = ("destination", "-created_at", "-id")
    paginator = admin_lists.EstimatedCountPaginator
    show_full_result_count = False
    fields = (
        "event",
        "destination",
        "state",
        "attempts",
        "next_attempt_at",
        "first_attempt_at",
        "last_status",
        "last_error",
        "created_at",
        "finished_at",
    )
    readonly_fields = fields
    inlines = (AttemptInline,)
