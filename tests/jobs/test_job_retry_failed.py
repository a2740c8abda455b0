"""The "Retry the failed ones" button starts a new job over only the instances that failed.

Cloud Elements' refusals are injected at the client seam; the retry job runs over the failed
instances only and succeeds once they are accepted, and a job with no failures left answers so
rather than starting a second job.
"""

from __future__ import annotations

from django.urls import reverse

from instances.cloud_elements import client as cloud_elements
from instances.jobs import engine
from instances.jobs import services as jobs
from instances.jobs.models import Job
from instances.models import ElementInstance
from instances.sandbox.models import SandboxInstance
from tests.job_helpers import sandboxed
from tests.jobs.support import live, shown


@live
def test_retry_the_failed_ones_is_a_new_job_over_only_those(
    sandbox_site, client, operator, make_instance, monkeypatch
):
    instances = sandboxed(make_instance, sandbox_site.url, 4)
    real = cloud_elements.update_instance
    refused = {instances[1].remote_id, instances[3].remote_id}

    def update_instance(instance_id, changes):
        if instance_id in refused:
            raise cloud_elements.CloudElementsBadRequestError(request_id="req-1")
        return real(instance_id, changes)

    monkeypatch.setattr(cloud_elements, "update_instance", update_instance)
    job = jobs.start_job(
        kind=Job.Kind.EVENTS_ON, instances=ElementInstance.objects.all(), actor=operator
    )
    engine.run_job(job.pk)
    job.refresh_from_db()
    assert (job.done, job.failed) == (4, 2)
    refused.clear()  # Cloud Elements takes them now
    client.force_login(operator)

    response = client.post(reverse("jobs:retry", args=[job.pk]))

    retry = Job.objects.get(retry_of=job)
    assert response.url == retry.get_absolute_url()
    assert retry.kind == Job.Kind.EVENTS_ON and retry.total == 2
    assert sorted(retry.items.values_list("instance_id", flat=True)) == [
        instances[1].pk,
        instances[3].pk,
    ]
    engine.run_job(retry.pk)
    retry.refresh_from_db()
    assert (retry.status, retry.done, retry.failed) == ("done", 2, 0)
    assert all(r.events_enabled for r in SandboxInstance.objects.all())
    # Nothing left to retry: a clear answer, not a second job.
    again = client.post(reverse("jobs:retry", args=[retry.pk]), follow=True)
    assert shown(again)[-1] == ("warning", "This job has no failed instances to retry.")
