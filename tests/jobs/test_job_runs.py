"""A job does its bulk work over many instances, each once, and a failure fails that instance alone.

Jobs run here in-process by the same function the task worker calls (tests/jobs/test_worker.py
runs the real worker), with remote calls over real HTTP to the sandbox: an events job over 200
instances turns each on once, a disable job disables each once and an enable job undoes it, and a
missing instance or an unexpected error fails alone and is listed with its message.
"""

from __future__ import annotations

from django.urls import reverse
from django_tasks_db.models import DBTaskResult

from instances.cloud_elements import client as cloud_elements
from instances.jobs import engine
from instances.jobs import services as jobs
from instances.jobs.models import Job, JobItem
from instances.models import AuditEntry, ElementInstance
from instances.sandbox.models import SandboxInstance
from tests.job_helpers import sandboxed
from tests.jobs.support import Action, audit_count, live


@live
def test_an_events_job_over_200_instances_turns_each_on_once(sandbox_site, operator, make_instance):
    instances = sandboxed(make_instance, sandbox_site.url, 200)

    job = jobs.start_job(
        kind=Job.Kind.EVENTS_ON, instances=ElementInstance.objects.all(), actor=operator
    )
    assert DBTaskResult.objects.filter(args_kwargs__args=[job.pk]).count() == 1
    assert engine.run_job(job.pk) == "done"

    job.refresh_from_db()
    assert (job.status, job.total, job.done, job.failed) == ("done", 200, 200, 0)
    assert job.items.filter(status=JobItem.Status.OK).count() == 200
    assert all(r.events_enabled for r in SandboxInstance.objects.all())
    assert set(audit_count(instances, Action.EVENTS_ENABLED).values()) == {1}
    assert AuditEntry.objects.filter(action=Action.EVENTS_ENABLED, actor=operator).count() == 200


@live
def test_one_missing_instance_fails_alone_and_is_listed_with_its_message(
    sandbox_site, client, operator, make_instance
):
    instances = sandboxed(make_instance, sandbox_site.url, 5)
    SandboxInstance.objects.filter(pk=instances[2].remote_id).delete()
    job = jobs.start_job(
        kind=Job.Kind.SYNC, instances=ElementInstance.objects.all(), actor=operator
    )
    engine.run_job(job.pk)
    client.force_login(operator)

    data = client.get(reverse("jobs:detail_json", args=[job.pk])).json()

    assert (data["status"], data["total"], data["done"], data["failed"]) == ("done", 5, 5, 1)
    assert data["finished"] is True
    [failure] = data["failures"]
    assert failure["instance"] == instances[2].name
    assert failure["url"] == instances[2].get_absolute_url()
    assert f"no instance {instances[2].remote_id}" in failure["message"]
    page = client.get(reverse("jobs:detail", args=[job.pk])).content.decode()
    assert '<progress id="job-progress" max="5" value="5">' in page
    assert "Retry the failed ones" in page
    assert set(audit_count(instances, Action.SYNCED).values()) == {1}


@live
def test_an_unexpected_error_on_one_instance_fails_it_alone(
    sandbox_site, operator, make_instance, monkeypatch
):
    instances = sandboxed(make_instance, sandbox_site.url, 3)
    real = cloud_elements.get_instance

    def get_instance(instance_id):
        if instance_id == instances[0].remote_id:
            raise KeyError("a bug")
        return real(instance_id)

    monkeypatch.setattr(cloud_elements, "get_instance", get_instance)
    job = jobs.start_job(
        kind=Job.Kind.SYNC, instances=ElementInstance.objects.all(), actor=operator
    )

    assert engine.run_job(job.pk) == "done"

    job.refresh_from_db()
    assert (job.done, job.failed) == (3, 1)
    assert job.items.get(instance=instances[0]).message == "Unexpected error; see the server log."


@live
def test_a_disable_job_disables_each_once_and_an_enable_job_undoes_it(
    sandbox_site, operator, make_instance
):
    instances = sandboxed(make_instance, sandbox_site.url, 6, events=True)
    SandboxInstance.objects.filter(pk=instances[2].remote_id).delete()

    job = jobs.start_job(kind=Job.Kind.DISABLE, instances=[i.pk for i in instances], actor=operator)
    assert engine.run_job(job.pk) == "done"

    job.refresh_from_db()
    assert (job.status, job.total, job.done, job.failed) == ("done", 6, 6, 1)
    assert job.items.get(status=JobItem.Status.FAILED).instance_id == instances[2].pk
    assert all(r.disabled and r.events_enabled for r in SandboxInstance.objects.all())
    disabled = audit_count(instances, Action.DISABLED)
    assert disabled.pop(instances[2].pk) == 0 and set(disabled.values()) == {1}
    assert ElementInstance.objects.filter(remote_disabled=True).count() == 5

    again = jobs.start_job(kind=Job.Kind.ENABLE, instances=[instances[0].pk], actor=operator)
    assert engine.run_job(again.pk) == "done"
    assert again.items.get().status == JobItem.Status.OK
    assert not SandboxInstance.objects.get(pk=instances[0].remote_id).disabled
    assert audit_count(instances[:1], Action.ENABLED) == {instances[0].pk: 1}
