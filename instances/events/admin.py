"""Received deliveries in the admin: read-only, searched and paged at a bounded cost."""

from __future__ import annotations

from django.contrib import admin
from django.utils.html import format_html

from instances import admin_lists
from instances.events import search as event_search
from instances.events.models import EventNotification

# Event types Cloud Elements sends (normalised), plus the receiver's own labels.
EVENT_TYPES = ("CREATED", "UPDATED", "DELETED", "MIXED", "UNKNOWN")


class EventTypeFilter(admin.SimpleListFilter):
    title = "event type"
    parameter_name = "event_type"

    def lookups(self, request, model_admin):
        return [(value, value) for value in EVENT_TYPES]

    def queryset(self, request, queryset):
        return queryset.filter(event_type=self.value()) if self.value() else queryset


@admin.register(EventNotification)
class EventNotificationAdmin(admin_lists.ReadOnlyAdmin):
    """Received deliveries, read-only: they are evidence of what Cloud Elements sent."""

    list_display = (
        "received_at",
        "instance",
        "event_type",
        "object_type",
        "object_id",
        "signature",
        "remote_event_id",
    )
    list_filter = (
        admin_lists.InstanceFilter,
        EventTypeFilter,
        "signature",
        "received_at",
    )
    # Shows the search box; the search itself is event_search's (see get_search_results).
    search_fields = ("object_id", "remote_event_id", "webhook_id", "instance__name")
    search_help_text = event_search.HELP_TEXT
    list_select_related = ("instance",)
    paginator = admin_lists.EstimatedCountPaginator
    show_full_result_count = False
    readonly_fields = (
        "instance",
        "received_at",
        "signature",
        "event_type",
        "object_type",
        "object_id",
        "events",
        "remote_event_id",
        "webhook_id",
        "dedup_key",
        "formatted_body",
    )
    fields = readonly_fields

    def get_search_results(self, request, queryset, search_term):
        # Bounded index lookups, never an icontains over the table (see event_search).
        chosen = request.GET.get(admin_lists.InstanceFilter.parameter_name, "")
        instance_id = event_search.chosen_instance(chosen)
        return event_search.search(queryset, search_term, instance_id=instance_id), False

    @admin.display(description="Body")
    def formatted_body(self, obj: EventNotification):
        # format_html escapes the body: it is whatever the sender posted.
        return format_html('<pre class="event-body">{}</pre>', obj.pretty_body)
