"""The job pages answer bad input and strangers clearly, and the changelist shows jobs in progress.

Unknown jobs are 404, a GET to cancel is 405, a staff user who did not start the job gets 403
and a non-staff user is sent to log in; the admin's instance changelist links the jobs still
queued or running, never finished ones.
"""

from __future__ import annotations

from django.urls import reverse

from instances.jobs import services as jobs
from instances.jobs.models import Job
from tests.jobs.support import ACTIVE


def test_job_endpoints_answer_bad_input_clearly(client, operator, viewer, outsider, make_instance):
    instance = make_instance(status=ACTIVE, remote_id=7002)
    job = jobs.start_job(kind=Job.Kind.SYNC, instances=[instance.pk], actor=operator)
    client.force_login(operator)
    assert client.get("/instances/jobs/999999/").status_code == 404
    assert client.get("/instances/jobs/999999.json").status_code == 404
    assert client.post("/instances/jobs/999999/cancel/").status_code == 404
    assert client.get(reverse("jobs:cancel", args=[job.pk])).status_code == 405

    client.force_login(viewer)  # staff, may view instances, did not start it
    assert client.get(reverse("jobs:detail", args=[job.pk])).status_code == 403
    assert client.get(reverse("jobs:detail_json", args=[job.pk])).status_code == 403
    assert client.post(reverse("jobs:cancel", args=[job.pk])).status_code == 403
    client.force_login(outsider)
    assert client.get(reverse("jobs:detail_json", args=[job.pk])).status_code == 302
    assert Job.objects.get(pk=job.pk).status == Job.Status.QUEUED


def test_the_admin_changelist_lists_queued_and_running_jobs_only(client, operator):
    running = Job.objects.create(kind=Job.Kind.ENABLE, status=Job.Status.RUNNING, total=4, done=1)
    queued = Job.objects.create(kind=Job.Kind.SYNC, total=2)
    done = Job.objects.create(kind=Job.Kind.SYNC, status=Job.Status.DONE, total=2, done=2)
    client.force_login(operator)

    page = client.get(reverse("admin:instances_elementinstance_changelist")).content.decode()

    link = f'Job running: <a href="{running.get_absolute_url()}">Enable at Cloud Elements, 1 of 4'
    assert link in page
    assert f'Job queued: <a href="{queued.get_absolute_url()}">' in page
    assert done.get_absolute_url() not in page
