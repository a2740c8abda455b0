"""Problems in the admin, for review (the sweep writes them; the instance page acknowledges)."""

from __future__ import annotations

from django.contrib import admin

from instances import admin_lists
from instances.health.models import Problem


@admin.register(Problem)
class ProblemAdmin(admin_lists.ReadOnlyAdmin):
    list_display = ("instance", "kind", "since", "resolved_at", "acknowledged_at")
    list_filter = ("kind", ("resolved_at", admin.EmptyFieldListFilter), "since")
    search_fields = ("instance__name",)
    list_select_related = ("instance",)
    paginator = admin_lists.EstimatedCountPaginator
    show_full_result_count = False
