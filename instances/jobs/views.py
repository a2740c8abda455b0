"""Job pages: start a bulk job from the list, watch its progress, cancel it, retry its failures."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.admin.views.decorators import staff_member_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from instances.jobs import services as jobs
from instances.jobs.models import Job
from instances.lib.pages import can_change, page, uuids_in
from instances.models import ElementInstance


def _job(request: HttpRequest, job_id: int) -> Job:
    """The job, if this user may see it: its starter, or anyone allowed to change instances."""
    job = get_object_or_404(Job.objects.select_related("created_by", "cancelled_by"), pk=job_id)
    if job.created_by_id != request.user.pk and not request.user.has_perm(
        "instances.change_elementinstance"
    ):
        raise PermissionDenied("This job was started by someone else.")
    return job


@staff_member_required
@require_GET
def detail(request: HttpRequest, job_id: int) -> HttpResponse:
    job = _job(request, job_id)
    context = {"title": f"Job {job.pk}: {job.get_kind_display()}", "job": job}
    return page(request, "jobs/detail.html", {**context, "progress": jobs.progress(job)})


@never_cache
@staff_member_required
@require_GET
def detail_json(request: HttpRequest, job_id: int) -> JsonResponse:
    return JsonResponse(jobs.progress(_job(request, job_id)))


@require_POST
@staff_member_required
@can_change
def cancel(request: HttpRequest, job_id: int) -> HttpResponse:
    job = _job(request, job_id)
    try:
        jobs.cancel_job(job=job, actor=request.user)
    except jobs.JobError as error:
        messages.warning(request, error.message)
    else:
        messages.success(request, "Cancelled: the instance in progress finishes, no other starts.")
    return redirect(job)


@require_POST
@staff_member_required
@can_change
def retry(request: HttpRequest, job_id: int) -> HttpResponse:
    job = _job(request, job_id)
    try:
        new = jobs.retry_failed(job=job, actor=request.user)
    except jobs.JobError as error:
        messages.warning(request, error.message)
        return redirect(job)
    messages.success(request, f"Retrying {new.total} failed instances as job {new.pk}.")
    return redirect(new)


@require_POST
@staff_member_required
@can_change
def bulk(request: HttpRequest) -> HttpResponse:
    """The instance list's bulk action bar: the checked rows, one action, one job."""
    kind = request.POST.get("action", "")
    if kind not in jobs.BULK_KINDS:
        messages.error(request, "Choose what to do with the selected instances.")
        return redirect("instances:index")
    selected = ElementInstance.objects.filter(
        uuid__in=uuids_in(request.POST.getlist("instance"), 10_000)
    )
    try:
        if request.POST.get("scope") == "filter":
            query = request.POST.get("query", "")[:2000]
            job = jobs.start_filter_job(kind=kind, query=query, actor=request.user)
        else:
            job = jobs.start_job(kind=kind, instances=selected, actor=request.user)
    except jobs.JobError as error:
        messages.error(request, error.message)
        return redirect("instances:index")
    about = "" if job.items_ready else "about "
    messages.success(
        request, f"Started job {job.pk}: {job.get_kind_display()}, {about}{job.total} instances."
    )
    return redirect(job)
