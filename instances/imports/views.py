"""Import pages: start an import, the instances new at Cloud Elements, and an imported or drifted
instance's own actions (enter masked secrets, send our values, receive its events here)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.admin.views.decorators import staff_member_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from instances import snapshots
from instances.cloud_elements import client as ce
from instances.forms import webhook_url
from instances.imports import scan, services
from instances.imports.forms import SecretsForm
from instances.imports.models import DiscoveredInstance
from instances.jobs.models import Job
from instances.lib.pages import can_change, page, post_or_back
from instances.models import ElementInstance

NEW_PAGE_SIZE = 100


@require_POST
@staff_member_required
@can_change
def start(request: HttpRequest) -> HttpResponse:
    running = scan.running_scan()
    job = scan.start(kind=Job.Kind.IMPORT, actor=request.user)
    if running is not None:
        messages.info(request, f"Job {job.pk} is already reading the account; here it is.")
    else:
        messages.success(
            request,
            f"Started job {job.pk}: import from Cloud Elements. Nothing is sent to Cloud "
            "Elements; every instance not known here gets a row.",
        )
    return redirect(job)


@require_POST
@staff_member_required
@can_change
def resume(request: HttpRequest, job_id: int) -> HttpResponse:
    job = get_object_or_404(Job, pk=job_id)
    try:
        scan.resume(job=job)
    except scan.ScanError as error:
        messages.warning(request, error.message)
    else:
        messages.success(request, "Resumed: the job goes on from the page where it stopped.")
    return redirect(job)


@require_GET
@staff_member_required
def new_at_cloud_elements(request: HttpRequest) -> HttpResponse:
    found = DiscoveredInstance.objects.filter(account=ce.account())
    context = {
        "title": "New at Cloud Elements",
        "rows": found.order_by("-found_at", "-id")[:NEW_PAGE_SIZE],
        "count": found.count(),
        "shown": NEW_PAGE_SIZE,
    }
    return page(request, "imports/new.html", context)


@require_POST
@staff_member_required
@can_change
def import_discovered(request: HttpRequest, pk: int) -> HttpResponse:
    discovered = get_object_or_404(DiscoveredInstance, pk=pk)
    try:
        instance = services.import_discovered(discovered=discovered, actor=request.user)
    except (ce.CloudElementsError, services.ActionError) as error:
        messages.error(request, error.message)
        return redirect("imports:new")
    messages.success(request, f"Imported “{instance.name}” from Cloud Elements.")
    return redirect(instance)


def _instance(uuid) -> ElementInstance:
    return get_object_or_404(
        ElementInstance.objects.select_related("webhook").exclude(
            status=ElementInstance.Status.DELETED
        ),
        uuid=uuid,
    )


@sensitive_post_parameters("oauth_api_secret", "api_key", "signature_key")
@require_http_methods(["GET", "POST"])
@staff_member_required
@can_change
def secrets(request: HttpRequest, uuid) -> HttpResponse:
    instance = _instance(uuid)
    form = SecretsForm(request.POST if request.method == "POST" else None, instance=instance)
    if request.method == "POST" and form.is_valid():
        entered = services.enter_secrets(instance=instance, **form.cleaned_data, actor=request.user)
        messages.success(request, f"Kept here: {', '.join(entered)}.")
        return redirect(instance)
    context = {"title": f"Enter secrets of {instance.name}", "instance": instance, "form": form}
    status = 400 if form.errors else 200
    return page(request, "imports/secrets.html", context, status=status)


@post_or_back("Send ours is a button on this page.")
@staff_member_required
@can_change
def send_ours(request: HttpRequest, uuid) -> HttpResponse:
    instance = _instance(uuid)
    try:
        services.send_ours(instance=instance, actor=request.user)
    except (ce.CloudElementsError, services.ActionError) as error:
        messages.error(request, f"Cloud Elements keeps its values: {error.message}")
    else:
        messages.success(request, "Cloud Elements now holds the values from here.")
    return redirect(instance)


@require_http_methods(["GET", "POST"])
@staff_member_required
@can_change
def receive_here(request: HttpRequest, uuid) -> HttpResponse:
    """A confirmation that says what changes for the team's app, then one PATCH."""
    instance = _instance(uuid)
    if request.method == "POST":
        try:
            services.receive_events_here(instance=instance, actor=request.user)
        except (ce.CloudElementsError, services.ActionError) as error:
            messages.error(request, f"Nothing changed: {error.message}")
        else:
            messages.success(
                request, "Its events now come to this dashboard, signed with a new key."
            )
        return redirect(instance)
    context = {
        "title": f"Receive events of {instance.name} here",
        "instance": instance,
        "receiver": webhook_url(instance.uuid),
        "drift": snapshots.drift(instance),
    }
    return page(request, "imports/receive_here.html", context)
