"""`/api/v1/jobs`: start a bulk job (instances or a filter), read its progress, cancel it."""

from __future__ import annotations

from urllib.parse import urlencode

from django.http import HttpRequest
from ninja import Router, Status

from instances.api import present
from instances.api.auth import READ, WRITE, ApiError, require
from instances.api.common import ERRORS, filtered
from instances.api.schemas import Job, JobRequest
from instances.jobs import services as jobs
from instances.jobs.models import Job as JobRow
from instances.models import ElementInstance

router = Router(tags=["jobs"])


@router.post("/jobs", response={201: Job, **ERRORS}, summary="Start a bulk job")
def start_job(request: HttpRequest, body: JobRequest):
    """Over the instances given by uuid, or over every instance the filter matches when the
    worker reaches it (as "All N matching" on the dashboard's list)."""
    require(request, WRITE)
    if (body.instances is None) == (body.filter is None):
        raise ApiError(
            400,
            "Give either `instances` or `filter`.",
            {
                "instances": ["Give either this or `filter`."],
            },
        )
    try:
        if body.filter is not None:
            form = filtered(body.filter)
            query = urlencode({k: v for k, v in form.data.items() if v})
            job = jobs.start_filter_job(kind=body.kind, query=query, actor=request.user)
        else:
            ids = ElementInstance.objects.filter(uuid__in=body.instances)
            job = jobs.start_job(kind=body.kind, instances=ids, actor=request.user)
    except jobs.JobError as error:
        raise ApiError(400, error.message) from None
    return Status(201, present.job(job))


def _job(request: HttpRequest, job_id: int) -> JobRow:
    job = JobRow.objects.filter(pk=job_id).first()
    if job is None:
        raise ApiError(404, "No job has this id.")
    # As on the job page: its starter, or anyone allowed to change instances.
    if job.created_by_id != request.user.pk and not request.user.has_perm(
        "instances.change_elementinstance"
    ):
        raise ApiError(403, "This job was started by someone else.")
    return job


@router.get("/jobs/{job_id}", response={200: Job, **ERRORS}, summary="Read a job's progress")
def read_job(request: HttpRequest, job_id: int):
    require(request, READ)
    return present.job(_job(request, job_id))


@router.post("/jobs/{job_id}/cancel", response={200: Job, **ERRORS}, summary="Cancel a job")
def cancel_job(request: HttpRequest, job_id: int):
    require(request, WRITE)
    job = _job(request, job_id)
    try:
        jobs.cancel_job(job=job, actor=request.user)
    except jobs.JobError as error:
        raise ApiError(409, error.message) from None
    return present.job(_job(request, job_id))
