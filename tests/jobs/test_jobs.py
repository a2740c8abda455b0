"""Jobs: bulk work over many instances, run here in-process by the same function the task
worker calls (tests/test_worker.py runs the real worker). Remote calls go over real HTTP to the
sandbox; faults (a rate limit, a concurrent cancel) are injected at the client seam."""

from __future__ import annotations

from datetime import timedelta

import pytest
import requests
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.urls import reverse
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from instances.cloud_elements import client as cloud_elements
from instances.jobs import engine
from instances.jobs import services as jobs
from instances.jobs.models import Job, JobItem
from instances.models import AuditEntry, ElementInstance
from instances.sandbox.models import SandboxInstance
from tests.job_helpers import sandboxed

live = pytest.mark.django_db(transaction=True)
Action = AuditEntry.Action
ACTIVE = ElementInstance.Status.ACTIVE


def shown(response) -> list[tuple[str, str]]:
    return [(m.level_tag, m.message) for m in response.context["messages"]]


def audit_count(instances, action: str) -> dict[int, int]:
    counts = dict.fromkeys((i.pk for i in instances), 0)
    for pk in AuditEntry.objects.filter(action=action).values_list("instance_id", flat=True):
        if pk in counts:
            counts[pk] += 1
    return counts


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


@live
def test_cancel_stops_the_job_after_the_instance_in_flight(
    sandbox_site, client, operator, make_instance, monkeypatch
):
    sandboxed(make_instance, sandbox_site.url, 6)
    job = jobs.start_job(
        kind=Job.Kind.SYNC, instances=ElementInstance.objects.all(), actor=operator
    )
    real = cloud_elements.get_instance
    calls = []

    def get_instance(instance_id):
        calls.append(instance_id)
        if len(calls) == 2:  # the operator presses Cancel while the second one is in flight
            jobs.cancel_job(job=Job.objects.get(pk=job.pk), actor=operator)
        return real(instance_id)

    monkeypatch.setattr(cloud_elements, "get_instance", get_instance)

    assert engine.run_job(job.pk) == "stopped"

    job.refresh_from_db()
    assert (job.status, job.done, job.cancelled_by) == ("cancelled", 2, operator)
    assert len(calls) == 2
    assert job.items.filter(status=JobItem.Status.PENDING).count() == 4
    client.force_login(operator)
    twice = client.post(reverse("jobs:cancel", args=[job.pk]), follow=True)
    assert twice.status_code == 200
    assert shown(twice) == [("warning", "This job is already cancelled; nothing to cancel.")]


def test_a_cancelled_job_is_never_started(operator, make_instance, client):
    instance = make_instance(status=ACTIVE, remote_id=7001)
    job = jobs.start_job(kind=Job.Kind.SYNC, instances=[instance.pk], actor=operator)
    client.force_login(operator)

    response = client.post(reverse("jobs:cancel", args=[job.pk]), follow=True)

    assert response.redirect_chain[-1][0] == job.get_absolute_url()
    assert shown(response)[0][0] == "success"
    assert engine.run_job(job.pk) == "not claimed"
    assert Job.objects.get(pk=job.pk).done == 0


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


def test_the_list_starts_a_job_from_the_checked_rows(client, operator, make_instance):
    chosen = [make_instance(f"Row {n}", status=ACTIVE, remote_id=7100 + n) for n in range(3)]
    client.force_login(operator)
    page = client.get(reverse("instances:index")).content.decode()
    assert f'value="{chosen[0].uuid}" form="bulk"' in page

    response = client.post(
        reverse("jobs:bulk"),
        {"action": "events_off", "instance": [str(chosen[0].uuid), str(chosen[2].uuid), "junk"]},
    )

    job = Job.objects.get()
    assert response.url == job.get_absolute_url()
    assert (job.kind, job.total, job.created_by) == ("events_off", 2, operator)
    assert "Job running" in client.get(reverse("instances:index")).content.decode()
    none = client.post(reverse("jobs:bulk"), {"action": "sync"}, follow=True)
    assert shown(none) == [("error", "No instances were selected, so no job was started.")]
    bad = client.post(reverse("jobs:bulk"), {"action": "delete"}, follow=True)
    assert shown(bad) == [("error", "Choose what to do with the selected instances.")]


def test_sync_all_and_the_admin_actions_start_jobs(client, operator, make_instance):
    active = [make_instance(f"Row {n}", status=ACTIVE, remote_id=7200 + n) for n in range(3)]
    make_instance("Draft")
    client.force_login(operator)

    response = client.post(reverse("instances:sync_all"))

    job = Job.objects.get()
    assert response.url == job.get_absolute_url()
    assert (job.kind, job.total) == ("sync_all", 3)
    changelist = reverse("admin:instances_elementinstance_changelist")
    answer = client.post(
        changelist,
        {"action": "enable_events", ACTION_CHECKBOX_NAME: [active[0].pk, active[1].pk]},
        follow=True,
    )
    started = Job.objects.exclude(pk=job.pk).get()
    assert (started.kind, started.total) == ("events_on", 2)
    assert f'<a href="{started.get_absolute_url()}">job {started.pk}</a>' in answer.content.decode()
    assert client.get(reverse("admin:jobs_job_changelist")).status_code == 200
    assert client.get(reverse("admin:jobs_job_change", args=[job.pk])).status_code == 200


@live
def test_a_resumed_item_is_read_back_not_sent_twice(
    sandbox_site, operator, make_instance, monkeypatch
):
    [instance] = sandboxed(make_instance, sandbox_site.url, 1, events=True)
    # The worker died after Cloud Elements applied the change but before it was recorded.
    job = jobs.start_job(kind=Job.Kind.EVENTS_ON, instances=[instance.pk], actor=operator)
    JobItem.objects.filter(job=job).update(status=JobItem.Status.IN_FLIGHT)
    sent = []
    monkeypatch.setattr(cloud_elements, "update_instance", lambda *a: sent.append(a))

    engine.run_job(job.pk)

    item = job.items.get()
    assert item.status == JobItem.Status.OK
    assert "read back, not resent" in item.message
    assert sent == []
    instance.webhook.refresh_from_db()
    assert instance.webhook.enabled is True


@live
def test_a_rate_limited_instance_waits_and_is_retried(
    sandbox_site, operator, make_instance, monkeypatch, settings
):
    [instance] = sandboxed(make_instance, sandbox_site.url, 1)
    real = cloud_elements.update_instance
    refusals = []

    def update_instance(instance_id, changes):
        if len(refusals) < 2:
            refusals.append(instance_id)
            raise cloud_elements.CloudElementsRateLimitedError(status=429, retry_after=0.05)
        return real(instance_id, changes)

    monkeypatch.setattr(cloud_elements, "update_instance", update_instance)
    job = jobs.start_job(kind=Job.Kind.EVENTS_ON, instances=[instance.pk], actor=operator)
    engine.run_job(job.pk)

    assert job.items.get().status == JobItem.Status.OK
    assert len(refusals) == 2
    settings.JOB_RATE_LIMIT_RETRIES = 0
    refusals.clear()
    second = jobs.start_job(kind=Job.Kind.EVENTS_OFF, instances=[instance.pk], actor=operator)
    engine.run_job(second.pk)
    assert second.items.get().status == JobItem.Status.FAILED


def test_429_and_503_carry_retry_after():
    def answer(status: int, retry_after: str) -> requests.Response:
        response = requests.Response()
        response.status_code = status
        response.headers["Retry-After"] = retry_after
        response._content = b'{"message": "slow down"}'
        return response

    with pytest.raises(cloud_elements.CloudElementsRateLimitedError) as error:
        cloud_elements._parse(answer(429, "7"))
    assert (error.value.retry_after, error.value.ambiguous) == (7.0, False)
    assert "slow down" in error.value.message
    with pytest.raises(cloud_elements.CloudElementsRateLimitedError) as error:
        cloud_elements._parse(answer(503, "Wed, 21 Oct 2015 07:28:00 GMT"))
    assert (error.value.retry_after, error.value.ambiguous) == (0.0, True)


def test_a_job_whose_worker_died_is_queued_again_once(operator, make_instance):
    instance = make_instance(status=ACTIVE, remote_id=7300)
    job = jobs.start_job(kind=Job.Kind.SYNC, instances=[instance.pk], actor=operator)
    assert engine.claim(job.pk) == 1 and engine.claim(job.pk) is None
    Job.objects.filter(pk=job.pk).update(lease_expires_at=timezone.now() - timedelta(seconds=1))
    before = DBTaskResult.objects.count()

    assert jobs.recover_stalled_jobs() == [job.pk]
    assert jobs.recover_stalled_jobs() == []

    assert Job.objects.get(pk=job.pk).status == Job.Status.QUEUED
    assert DBTaskResult.objects.count() == before + 1


@live
def test_a_worker_that_lost_its_lease_stops_instead_of_racing_on(
    sandbox_site, operator, make_instance, monkeypatch
):
    sandboxed(make_instance, sandbox_site.url, 5)
    job = jobs.start_job(
        kind=Job.Kind.SYNC, instances=ElementInstance.objects.all(), actor=operator
    )
    real = cloud_elements.get_instance

    def get_instance(instance_id):
        # This worker stalls past its lease; the scheduler hands the job to another worker.
        if not Job.objects.filter(pk=job.pk, attempts=2).exists():
            Job.objects.filter(pk=job.pk).update(lease_expires_at=timezone.now())
            assert jobs.recover_stalled_jobs() == [job.pk]
            assert engine.claim(job.pk) == 2
        return real(instance_id)

    monkeypatch.setattr(cloud_elements, "get_instance", get_instance)

    assert engine.run_job(job.pk) == "stopped"

    job.refresh_from_db()
    assert (job.status, job.attempts, job.done) == ("running", 2, 0)
    assert job.items.filter(status=JobItem.Status.PENDING).count() == 4


def test_a_job_that_keeps_losing_its_worker_is_failed_not_retried_forever(operator, make_instance):
    instance = make_instance(status=ACTIVE, remote_id=7400)
    job = jobs.start_job(kind=Job.Kind.SYNC, instances=[instance.pk], actor=operator)
    Job.objects.filter(pk=job.pk).update(
        status=Job.Status.RUNNING,
        attempts=engine.MAX_ATTEMPTS,
        lease_expires_at=timezone.now() - timedelta(seconds=1),
    )

    assert jobs.recover_stalled_jobs() == []

    job.refresh_from_db()
    assert job.status == Job.Status.FAILED and job.finished_at is not None


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


@live
def test_a_resumed_disable_is_read_back_not_sent_twice(
    sandbox_site, operator, make_instance, monkeypatch
):
    [instance] = sandboxed(make_instance, sandbox_site.url, 1)
    # The worker died after Cloud Elements disabled it but before the answer was recorded.
    SandboxInstance.objects.filter(pk=instance.remote_id).update(disabled=True)
    job = jobs.start_job(kind=Job.Kind.DISABLE, instances=[instance.pk], actor=operator)
    JobItem.objects.filter(job=job).update(status=JobItem.Status.IN_FLIGHT)
    sent = []
    monkeypatch.setattr(cloud_elements, "set_instance_enabled", lambda *a, **k: sent.append(a))

    engine.run_job(job.pk)

    item = job.items.get()
    assert (item.status, sent) == (JobItem.Status.OK, [])
    assert "read back, not resent" in item.message
    instance.refresh_from_db()
    assert instance.remote_disabled is True


def test_the_list_and_the_admin_start_disable_and_enable_jobs(client, operator, make_instance):
    rows = [make_instance(f"Row {n}", status=ACTIVE, remote_id=7300 + n) for n in range(2)]
    client.force_login(operator)
    page = client.get(reverse("instances:index")).content.decode()
    assert '<option value="disable">Disable at Cloud Elements</option>' in page
    assert '<option value="enable">Enable at Cloud Elements</option>' in page

    client.post(reverse("jobs:bulk"), {"action": "disable", "instance": [str(rows[0].uuid)]})
    changelist = reverse("admin:instances_elementinstance_changelist")
    answer = client.post(
        changelist,
        {"action": "enable_instances", ACTION_CHECKBOX_NAME: [r.pk for r in rows]},
        follow=True,
    )

    first, second = Job.objects.order_by("pk")
    assert (first.kind, first.total, second.kind, second.total) == ("disable", 1, "enable", 2)
    assert f'<a href="{second.get_absolute_url()}">job {second.pk}</a>' in answer.content.decode()
    # Nothing was sent in the request: the worker does it.
    assert not AuditEntry.objects.filter(action__in=[Action.DISABLED, Action.ENABLED]).exists()


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
