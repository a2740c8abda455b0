"""Admin review of instances: declarative, secrets masked, no remote calls while listing."""

from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from instances import admin_lists, search
from instances.drafts import EDITABLE
from instances.jobs import services as jobs
from instances.jobs.models import Job
from instances.models import AuditEntry, ElementInstance, Tag, WebhookSettings

# Statuses the dashboard's Edit page accepts: drafts (saved here) and active instances.
EDITABLE_HERE = {*EDITABLE, ElementInstance.Status.ACTIVE}

# Fields whose truth lives at Cloud Elements once the instance exists there.
REMOTE_OWNED = (
    "uuid",
    "status",
    "origin",
    "account",
    "remote_id",
    "remote_created_at",
    "drifted",
    "remote_missing",
    "masked_remote_token",
    "last_error",
    "last_error_request_id",
    "created_by",
    "created_at",
    "updated_at",
)


class WebhookSettingsInline(admin.StackedInline):
    model = WebhookSettings
    can_delete = False
    fields = ("enabled", "callback_url", "masked_signature_key")
    readonly_fields = fields

    @admin.display(description="Callback Notification Signature Key")
    def masked_signature_key(self, obj: WebhookSettings) -> str:
        return obj.masked_signature_key or "—"

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


class AuditEntryInline(admin.TabularInline):
    model = AuditEntry
    fields = ("created_at", "action", "outcome", "actor", "detail", "request_id")
    readonly_fields = fields
    extra = 0
    can_delete = False
    ordering = ("-created_at",)

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(ElementInstance)
class ElementInstanceAdmin(admin.ModelAdmin):
    """Review only: every change goes through the dashboard's pages and their services."""

    list_display = (
        "name",
        "element_key",
        "status_badge",
        "events_enabled",
        "tag_list",
        "remote_id",
        "origin",
        "owner_email",
        "created_by",
        "created_at",
    )
    # Fixed choices only: no filter reads the whole table (see admin_lists).
    list_filter = (
        "status",
        admin_lists.ElementFilter,
        ("webhook__enabled", admin.BooleanFieldListFilter),
        "remote_disabled",
        "origin",
        "drifted",
        "remote_missing",
        admin_lists.ProblemFilter,
        admin_lists.TagFilter,
        "created_at",
    )
    # Name, exact Cloud Elements id and tag name: see get_search_results.
    search_fields = ("name",)
    search_help_text = "Name, Cloud Elements id, tag, owner's name or e-mail address"
    list_select_related = ("webhook", "created_by")
    paginator = admin_lists.EstimatedCountPaginator
    show_full_result_count = False
    inlines = (WebhookSettingsInline, AuditEntryInline)
    list_per_page = 50
    actions = (
        "enable_events",
        "disable_events",
        "disable_instances",
        "enable_instances",
        "sync_from_cloud_elements",
    )
    LOCAL_FIELDS = (
        "name",
        "element_key",
        "authentication_type",
        "oauth_api_key",
        "oauth_callback_url",
        "tags",
        "owner_name",
        "owner_email",
    )
    readonly_fields = (
        "dashboard",
        *LOCAL_FIELDS,
        "other_parameters",
        "masked_oauth_api_secret",
        *REMOTE_OWNED,
    )
    fieldsets = [
        (None, {"fields": ["dashboard", *LOCAL_FIELDS, "other_parameters"]}),
        ("Secrets", {"fields": ["masked_oauth_api_secret"]}),
        ("Cloud Elements", {"fields": list(REMOTE_OWNED)}),
    ]

    def add_view(self, request, form_url="", extra_context=None):
        # Instances are created through the documented parameter form and the consent flow.
        return redirect("instances:new")

    def change_view(self, request, object_id, form_url="", extra_context=None):
        # Every field is read-only: edits go through the dashboard (a draft is saved here, an
        # active instance at Cloud Elements first), so this page offers no Save and a POST to
        # it saves nothing. has_change_permission stays true so the bulk actions work.
        obj = self.get_object(request, unquote(object_id))
        if request.method == "POST" and obj is not None:
            if not self.has_change_permission(request, obj):
                raise PermissionDenied
            self.message_user(
                request,
                "Nothing is changed on this page. Use Edit on the dashboard's instance page.",
                messages.WARNING,
            )
            return redirect(request.path)
        extra_context = {
            **(extra_context or {}),
            "title": "Review element instance",
            "show_save": False,
            "show_save_and_continue": False,
            "show_save_and_add_another": False,
        }
        return super().change_view(request, object_id, form_url, extra_context)

    def changelist_view(self, request, extra_context=None):
        # A notice at the top links to the jobs the bulk actions started (one query).
        extra_context = {**(extra_context or {}), "running_jobs": jobs.running_jobs()}
        return super().changelist_view(request, extra_context)

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("tags")

    def get_search_results(self, request, queryset, search_term):
        # The dashboard's search: a UNION of index lookups, never a DISTINCT over a join.
        return search.search(queryset, search_term), False

    def get_actions(self, request):
        # Deleting a row here would leave the instance alive at Cloud Elements; deletion goes
        # through the instance page, which deletes it there first.
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    # Bulk actions start a job (issue 12): one remote call per instance is long work.
    @admin.action(description="Enable event notifications", permissions=["change"])
    def enable_events(self, request, queryset):
        self._start_job(request, queryset, Job.Kind.EVENTS_ON)

    @admin.action(description="Disable event notifications", permissions=["change"])
    def disable_events(self, request, queryset):
        self._start_job(request, queryset, Job.Kind.EVENTS_OFF)

    @admin.action(description="Disable at Cloud Elements", permissions=["change"])
    def disable_instances(self, request, queryset):
        self._start_job(request, queryset, Job.Kind.DISABLE)

    @admin.action(description="Enable at Cloud Elements", permissions=["change"])
    def enable_instances(self, request, queryset):
        self._start_job(request, queryset, Job.Kind.ENABLE)

    @admin.action(description="Sync from Cloud Elements", permissions=["change"])
    def sync_from_cloud_elements(self, request, queryset):
        self._start_job(request, queryset, Job.Kind.SYNC)

    def _start_job(self, request, queryset, kind: str) -> None:
        try:
            job = jobs.start_job(kind=kind, instances=queryset, actor=request.user)
        except jobs.JobError as error:
            self.message_user(request, error.message, messages.ERROR)
            return
        self.message_user(
            request,
            format_html(
                'Started <a href="{}">job {}</a>: {}, {} instances.',
                job.get_absolute_url(),
                job.pk,
                job.get_kind_display(),
                job.total,
            ),
            messages.SUCCESS,
        )

    @admin.display(description="Status", ordering="status")
    def status_badge(self, obj: ElementInstance):
        return format_html(
            '<span class="status status-{}">{}</span>', obj.status, obj.get_status_display()
        )

    @admin.display(description="Events", boolean=True, ordering="webhook__enabled")
    def events_enabled(self, obj: ElementInstance) -> bool:
        return obj.webhook.enabled

    @admin.display(description="Tags")
    def tag_list(self, obj: ElementInstance):
        return format_html_join(
            " ", '<span class="tag">{}</span>', ((tag.name,) for tag in obj.tags.all())
        )

    @admin.display(description="Dashboard")
    def dashboard(self, obj: ElementInstance):
        links = [format_html('<a href="{}">Instance page</a>', obj.get_absolute_url())]
        if obj.status in EDITABLE_HERE:
            edit = reverse("instances:edit", args=[obj.uuid])
            links.append(format_html('<a href="{}" class="dashboard-edit">Edit</a>', edit))
        return format_html_join(" · ", "{}", ((link,) for link in links))

    @admin.display(description="OAuth client secret")
    def masked_oauth_api_secret(self, obj: ElementInstance) -> str:
        return obj.masked_oauth_api_secret or "—"

    @admin.display(description="Instance token")
    def masked_remote_token(self, obj: ElementInstance) -> str:
        return obj.masked_remote_token or "—"


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    list_display = ("name",)
    search_fields = ("name",)


@admin.register(AuditEntry)
class AuditEntryAdmin(admin_lists.ReadOnlyAdmin):
    list_display = ("created_at", "instance", "action", "outcome", "actor", "request_id")
    list_filter = ("action", "outcome", "created_at")
    search_fields = ("instance__name", "request_id", "detail")
    list_select_related = ("instance", "actor")
    # Like the other big lists: no date_hierarchy (a DISTINCT over the table), no full count.
    paginator = admin_lists.EstimatedCountPaginator
    show_full_result_count = False
    deletable = True  # as before: a superuser may delete history entries
