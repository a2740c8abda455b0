"""Dashboard pages. Each view loads, validates, calls a service and redirects or renders."""

from __future__ import annotations

import re

from django.conf import settings
from django.contrib import messages
from django.contrib.admin.views.decorators import staff_member_required
from django.contrib.auth.views import redirect_to_login
from django.db import DatabaseError, connection
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404, redirect
from django.templatetags.static import static
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from instances import consent, drafts, enablement, oauth, owners, search, services, snapshots
from instances.cloud_elements import client as ce
from instances.elements import services as elements
from instances.elements.services import ELEMENT_KEY, element_name, known_elements
from instances.events import charts
from instances.forms import (
    DraftForm,
    InstanceFilterForm,
    InstanceForm,
    SettingsForm,
    oauth_callback_url,
)
from instances.forwarding import services as forwarding
from instances.imports import scan as imports
from instances.jobs import services as jobs
from instances.lib import keyset
from instances.lib.pages import can_add, can_change, page
from instances.links import services as links
from instances.links import views as link_views
from instances.links.forms import ConsentLinkForm
from instances.models import ElementInstance, OAuthState
from instances.oauth import StateError
from instances.parameters import DEFAULT_ELEMENT_KEY

PAGE_SIZE = 50
EVENTS_PAGE_SIZE = 25


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError:
        return JsonResponse({"status": "error", "database": "unavailable"}, status=503)
    return JsonResponse({"status": "ok", "database": "ok"})


@require_GET
def favicon(request: HttpRequest) -> HttpResponse:
    """Browsers ask for /favicon.ico whatever the page says; point them at the static file."""
    # Resolved per request: with the manifest storage the name carries a hash.
    return HttpResponseRedirect(static("favicon.ico"))


@require_GET
@staff_member_required
def setup(request: HttpRequest) -> HttpResponse:
    """Registering the Dropbox app: what the parameter table's "API Provider Setup" means."""
    context = {
        "title": "Setting up the Dropbox app",
        "redirect_uri": oauth_callback_url(),
        "webhook_uri": ce.base_url() + "/events/dropbox",
        "sandbox": settings.CLOUD_ELEMENTS_SANDBOX,
    }
    return page(request, "instances/setup.html", context)


@staff_member_required
def index(request: HttpRequest) -> HttpResponse:
    oauth.release_expired_consents()
    filters = InstanceFilterForm(request.GET)
    matching = filters.filter(ElementInstance.objects.all())
    matched = search.count_matching(matching)
    instances = (
        filters.filter(links.with_waiting_consent(ElementInstance.objects))
        .select_related("webhook", "created_by")
        .prefetch_related("tags")
        .annotate(last_event_at=charts.last_event_at())
    )
    keep = {k: v for k, v in request.GET.lists() if k not in keyset.PARAMETERS}
    page_obj = keyset.paginate(
        instances, request.GET, size=PAGE_SIZE, time_field="created_at", keep=keep, ids_first=True
    )
    context = {
        "title": "Instances",
        "page_obj": page_obj,
        "filters": filters,
        "query": urlencode(keep, doseq=True),
        "here": request.get_full_path(),
        "tags": search.tags_in_use(),
        "elements": known_elements(),
        "matched": matched,
        "new_at_cloud_elements": imports.count_new(),
        **jobs.list_notices(),
    }
    return page(request, "instances/index.html", context)


@staff_member_required
def detail(request: HttpRequest, uuid) -> HttpResponse:
    oauth.release_expired_consents()
    instance = get_object_or_404(
        links.with_waiting_consent(ElementInstance.objects)
        .select_related("webhook", "created_by")
        .prefetch_related("tags"),
        uuid=uuid,
    )
    rollup = charts.daily_counts(instance)
    events = keyset.paginate(
        instance.events.all(),
        request.GET,
        size=EVENTS_PAGE_SIZE,
        time_field="received_at",
        prefix="events_",
        fragment="#events",
    )
    states = forwarding.forwarding_states([event.pk for event in events])
    for event in events:
        event.forwarding = states.get(event.pk, [])
    context = {
        "title": instance.name,
        "instance": instance,
        "element_name": element_name(instance.element_key),
        "live_link": links.live_link(instance),
        "link_form": ConsentLinkForm(prefix="link"),
        "audit": instance.audit_entries.select_related("actor")[:50],
        "events": events,
        "events_total": sum(rollup.values()),
        "chart": (chart := charts.deliveries_per_day(rollup)),
        "chart_box": charts.chart_box(chart),
        "chart_width": charts.chart_width(),
        "chart_height": charts.CHART_HEIGHT,
        "bar_width": charts.BAR_WIDTH,
        "sandbox": settings.CLOUD_ELEMENTS_SANDBOX,
        "silent_after_hours": settings.SILENT_AFTER_HOURS,
        "drift": snapshots.drift(instance) if instance.drifted else [],
        "problems": instance.problems.filter(resolved_at__isnull=True).select_related(
            "acknowledged_by"
        ),
        "events_elsewhere": snapshots.events_elsewhere(instance),
    }
    return page(request, "instances/detail.html", context)


@sensitive_post_parameters("oauth_api_secret", "api_key", "signature_key")
@staff_member_required
@can_add
def new(request: HttpRequest) -> HttpResponse:
    """Choose an element (`?element=`, Dropbox by default), then fill in its parameters."""
    key = request.GET.get("element") or request.POST.get("element_key") or DEFAULT_ELEMENT_KEY
    query = request.GET.get("q", "")
    listed, listing_problem = elements.choices(query)
    context = {
        "title": "New element instance",
        "element_key": key,
        "q": query,
        "listed": listed,
        "listing_problem": listing_problem,
        "cache_hours": settings.ELEMENT_METADATA_CACHE_HOURS,
    }
    try:
        if not re.fullmatch(ELEMENT_KEY, key):
            raise elements.ElementUnavailable(f"“{key}” is not an element key.", 404)
        spec, notice = elements.for_new_instance(key)
    except elements.ElementUnavailable as error:
        context["problem"] = error.message
        return page(request, "instances/new.html", context, status=error.status)
    form = InstanceForm(request.POST or None, spec=spec)
    if form.cannot_create:
        context["problem"] = form.cannot_create
        return page(request, "instances/new.html", context, status=422 if request.POST else 200)
    link_form = ConsentLinkForm(request.POST or None, prefix="link")
    sending_link = "send_link" in request.POST
    if sending_link and form.is_valid() and form.cleaned_data["authentication_type"] != "oauth2":
        form.add_error(None, "A consent link is for oauth2: an apiKey needs no consent.")
    if (
        request.method != "POST"
        or not form.is_valid()
        or (sending_link and not link_form.is_valid())
    ):
        status = 400 if request.method == "POST" else 200
        context |= {"form": form, "link_form": link_form, "notice": notice}
        return page(request, "instances/new.html", context, status=status)
    try:
        instance = consent.create_draft(data=form.cleaned_data, actor=request.user)
    except services.ActionError as error:
        messages.error(request, error.message)
        return redirect(get_object_or_404(ElementInstance, uuid=form.cleaned_data["instance_uuid"]))
    if sending_link:
        return link_views.show_new_link(request, instance, link_form)
    if instance.authentication_type == ElementInstance.AuthenticationType.API_KEY:
        consent.create_with_api_key(instance=instance, actor=request.user)
        _announce(request, instance, done="was created at Cloud Elements")
        return redirect(instance)
    return _to_consent(request, instance, consent.start_authorization)


@never_cache
@require_GET
def oauth_callback(request: HttpRequest) -> HttpResponse:
    owner = "consent_link" in request.session and not request.user.is_staff
    if owner or oauth.is_link_state(request.GET.get("state", "")):
        # The account owner, who has no login, came back from a consent link: answer on the
        # owner's pages even when the state is no longer known, never with an operator page.
        return link_views.link_callback(request)
    if not (request.user.is_active and request.user.is_staff):
        # Never carry the code and state into the login URL (and so into history): a new
        # login means a new session, which could not complete this consent anyway.
        return redirect_to_login(reverse("instances:index"))
    try:
        instance, purpose = consent.complete_authorization(
            state=request.GET.get("state", ""),
            session_key=request.session.session_key or "",
            params=request.GET.dict(),
            actor=request.user,
        )
    except StateError as error:
        title = "Already connected" if error.already_connected else "This sign-in cannot be used"
        context = {"title": title, "error": error}
        return page(request, "instances/oauth_error.html", context, status=error.status)
    # Post/redirect/get: the code and state leave the address bar.
    reauthorized = purpose == OAuthState.Purpose.REAUTHORIZE
    _announce(request, instance, done="was re-authorized" if reauthorized else "is connected")
    return redirect(instance)


def _announce(request: HttpRequest, instance: ElementInstance, *, done: str) -> None:
    """Say what a create or a re-authorization came to: done, or why not."""
    if instance.last_error:
        messages.error(request, instance.last_error)
    elif instance.status == ElementInstance.Status.ACTIVE:
        messages.success(
            request, f"“{instance.name}” {done} (Cloud Elements id {instance.remote_id})."
        )


@require_POST
@staff_member_required
@can_change
def retry(request: HttpRequest, uuid) -> HttpResponse:
    instance = get_object_or_404(ElementInstance.objects.select_related("webhook"), uuid=uuid)
    if instance.status not in {
        ElementInstance.Status.FAILED,
        ElementInstance.Status.UNKNOWN,
        ElementInstance.Status.DRAFT,
        ElementInstance.Status.AUTHORIZING,
    }:
        messages.error(request, "Only a draft, failed or unknown instance can be retried.")
        return redirect(instance)
    return _to_consent(request, instance, consent.retry)


@require_POST
@staff_member_required
@can_change
def reconcile(request: HttpRequest, uuid) -> HttpResponse:
    instance = get_object_or_404(ElementInstance, uuid=uuid, status=ElementInstance.Status.UNKNOWN)
    consent.reconcile(instance=instance, actor=request.user)
    messages.info(
        request, f"Status after checking Cloud Elements: {instance.get_status_display()}."
    )
    return redirect(instance)


@require_POST
@staff_member_required
@can_change
def reauthorize(request: HttpRequest, uuid) -> HttpResponse:
    instance = get_object_or_404(ElementInstance, uuid=uuid, status=ElementInstance.Status.ACTIVE)
    return _to_consent(request, instance, consent.reauthorize)


@require_POST
@staff_member_required
@can_change
def events(request: HttpRequest, uuid) -> HttpResponse:
    instance = get_object_or_404(ElementInstance.objects.select_related("webhook"), uuid=uuid)
    enabled = request.POST.get("enabled") == "on"
    try:
        services.set_events(instance=instance, enabled=enabled, actor=request.user)
    except (ce.CloudElementsError, services.ActionError) as error:
        messages.error(request, services.events_error_message(instance, error))
    else:
        state = "on" if instance.webhook.enabled else "off"
        messages.success(request, f"{instance.name}: events turned {state}.")
    return _back(request, instance)


@sensitive_post_parameters("new_signature_key", "oauth_api_secret", "api_key", "signature_key")
@staff_member_required
@can_change
def edit(request: HttpRequest, uuid) -> HttpResponse:
    instance = get_object_or_404(ElementInstance.objects.select_related("webhook"), uuid=uuid)
    if drafts.is_editable(instance):
        return _edit_draft(request, instance)
    initial = {
        "name": instance.name,
        "tags": ", ".join(instance.tag_names()),
        "event_callback_url": instance.webhook.callback_url,
        "owner_name": instance.owner_name,
        "owner_email": instance.owner_email,
    }
    form = SettingsForm(request.POST or None, initial=initial, sends_events=instance.sends_events)
    if request.method == "POST" and form.is_valid():
        # The owner is kept here only: saved whatever Cloud Elements answers below.
        owner_saved = owners.set_owner(
            instance=instance,
            name=form.cleaned_data["owner_name"],
            email=form.cleaned_data["owner_email"],
            actor=request.user,
        )
        try:
            services.update_settings(
                instance=instance,
                name=form.cleaned_data["name"],
                tags=form.cleaned_data["tags"],
                callback_url=form.cleaned_data.get("event_callback_url"),
                signature_key=form.cleaned_data.get("new_signature_key") or None,
                actor=request.user,
            )
        except (ce.CloudElementsError, services.ActionError) as error:
            if getattr(error, "ambiguous", False):
                read_back = getattr(error, "read_back", False)
                note = "Cloud Elements did not confirm the change; " + (
                    "the instance was read back from it (the page shows what it holds now)"
                    if read_back
                    else "it could not be read back either (sync to check)"
                )
                if form.cleaned_data.get("new_signature_key"):
                    note += "; the new signature key is accepted beside the old one"
                note += "."
            else:
                note = (
                    "Nothing was changed at Cloud Elements."
                    if owner_saved
                    else "Nothing was changed."
                )
            if owner_saved:
                note = f"The owner was saved here. {note}"
            form.add_error(None, f"{note} {error.message}")
        else:
            messages.success(request, "Settings saved at Cloud Elements.")
            return redirect(instance)
    status = 400 if request.method == "POST" else 200
    context = {"title": f"Edit {instance.name}", "instance": instance, "form": form}
    return page(request, "instances/edit.html", context, status=status)


@staff_member_required
@can_change
def delete(request: HttpRequest, uuid) -> HttpResponse:
    instance = get_object_or_404(ElementInstance, uuid=uuid)
    if request.method == "POST":
        try:
            services.delete(instance=instance, actor=request.user)
        except (ce.CloudElementsError, services.ActionError) as error:
            # After an unanswered delete, deleting again is safe: "already gone" is success.
            if getattr(error, "ambiguous", False):
                note = "Cloud Elements may have deleted it; delete again to make sure."
            else:
                note = "Nothing was deleted."
            messages.error(request, f"{note} {error.message}")
        else:
            messages.success(request, f"“{instance.name}” was deleted; its history is kept.")
        return redirect(instance)
    return page(request, "instances/delete.html", {"title": "Delete?", "instance": instance})


@require_POST
@staff_member_required
@can_change
def sync(request: HttpRequest, uuid) -> HttpResponse:
    instance = get_object_or_404(ElementInstance.objects.select_related("webhook"), uuid=uuid)
    try:
        services.sync(instance=instance, actor=request.user)
    except (ce.CloudElementsError, services.ActionError) as error:
        messages.error(request, error.message)
    else:
        if instance.remote_missing:
            messages.warning(request, instance.last_error)
        else:
            messages.success(request, "Synced from Cloud Elements.")
    return redirect(instance)


@require_POST
@staff_member_required
@can_change
def sync_all(request: HttpRequest) -> HttpResponse:
    # One GET per instance is long work: a job, watched on its own page (issue 12).
    try:
        job = jobs.start_sync_all(actor=request.user)
    except jobs.JobError as error:
        messages.warning(request, error.message)
        return redirect("instances:index")
    messages.success(request, f"Started job {job.pk}: sync of {job.total} active instances.")
    return redirect(job)


def _back(request: HttpRequest, instance: ElementInstance) -> HttpResponse:
    """Return to the page the action came from, if it is ours."""
    target = request.POST.get("next", "")
    if url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure()):
        return HttpResponseRedirect(target)
    return redirect(instance)


def _to_consent(request: HttpRequest, instance: ElementInstance, start) -> HttpResponse:
    """Run a service that may return a consent URL; go there, or back to the instance."""
    if not request.session.session_key:
        request.session.cycle_key()
    try:
        url = start(instance=instance, session_key=request.session.session_key, actor=request.user)
    except ce.CloudElementsError as error:
        messages.error(request, f"{error.message} Your draft is saved; retry when ready.")
        return redirect(instance)
    except StateError as error:
        messages.error(request, error.message)
        return redirect(instance)
    if url is None:
        return redirect(instance)
    # The URL comes from Cloud Elements' oauth/url answer, as its documentation says to use it.
    return HttpResponseRedirect(url)


@require_http_methods(["GET", "POST"])
@staff_member_required
@can_change
def set_enabled(request: HttpRequest, uuid) -> HttpResponse:
    """Disable (after a confirmation page: it stops every API call) or enable at Cloud Elements."""
    instance = get_object_or_404(ElementInstance, uuid=uuid)
    if request.method == "GET":
        if instance.remote_disabled or instance.status != ElementInstance.Status.ACTIVE:
            return redirect(instance)
        context = {"title": "Disable?", "instance": instance}
        return page(request, "instances/set_enabled.html", context)
    enabled = request.POST.get("enabled") == "on"
    try:
        enablement.set_enabled(instance=instance, enabled=enabled, actor=request.user)
    except (ce.CloudElementsError, services.ActionError) as error:
        messages.error(request, enablement.error_message(instance, error, enabled=enabled))
    else:
        state = "disabled" if instance.remote_disabled else "enabled"
        messages.success(request, f"{instance.name}: {state} at Cloud Elements.")
    return redirect(instance)


def _edit_draft(request: HttpRequest, instance: ElementInstance) -> HttpResponse:
    """Called by views.edit (which checks login and permission) for an editable instance."""
    spec = elements.kept_spec(instance.element_key)
    form = DraftForm(request.POST or None, instance=instance, spec=spec)
    if request.method == "POST" and form.is_valid():
        try:
            drafts.update_draft(instance=instance, data=form.cleaned_data, actor=request.user)
        except services.ActionError as error:
            messages.error(request, error.message)
            return redirect(instance)
        messages.success(
            request,
            "Saved here; nothing was sent to Cloud Elements. "
            "Choose Retry to create the instance with these values.",
        )
        return redirect(instance)
    status = 400 if request.method == "POST" else 200
    context = {"title": f"Edit {instance.name}", "instance": instance, "form": form}
    return page(request, "instances/edit_draft.html", context, status=status)
