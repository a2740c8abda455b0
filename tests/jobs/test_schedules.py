"""Scheduled work: once per period, the reconcile of unknown instances, the health check."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from instances.jobs import engine, schedules
from instances.jobs import services as jobs
from instances.jobs.models import Job, ScheduleRun
from instances.models import ElementInstance
from instances.sandbox.models import SandboxInstance
from tests.job_helpers import sandboxed

live = pytest.mark.django_db(transaction=True)
Status = ElementInstance.Status


def test_a_tick_queues_each_schedule_once_per_period(db):
    now = datetime(2026, 11, 28, 10, 7, 30, tzinfo=UTC)

    first = schedules.tick(now)
    again = schedules.tick(now + timedelta(seconds=20))
    later = schedules.tick(now + timedelta(minutes=1))

    assert sorted(first) == sorted(schedules.SCHEDULES)
    assert again == []
    # The one-minute schedule, and the two-minute one whose period began at 10:08.
    assert later == ["recover_jobs", "campaigns"]
    assert DBTaskResult.objects.count() == len(first) + 2
    assert ScheduleRun.objects.filter(name="health_check").get().period_start == datetime(
        2026, 11, 28, 10, 0, tzinfo=UTC
    )


@live
def test_the_health_check_counts_and_filters_instances_needing_consent(
    sandbox_site, client, operator, make_instance
):
    instances = sandboxed(make_instance, sandbox_site.url, 4)
    SandboxInstance.objects.filter(pk=instances[1].remote_id).update(valid=False)
    SandboxInstance.objects.filter(pk=instances[2].remote_id).update(disabled=True)

    assert schedules.run("health_check").startswith("job ")
    job = Job.objects.get(kind=Job.Kind.HEALTH_CHECK)
    assert job.created_by is None and job.total == 4
    engine.run_job(job.pk)
    client.force_login(operator)

    page = client.get(reverse("instances:index")).content.decode()
    assert "2 instances need re-authorization" in page
    filtered = client.get(reverse("instances:index") + "?attention=reauthorize").content.decode()
    assert instances[1].name in filtered and instances[2].name in filtered
    assert instances[0].name not in filtered and instances[3].name not in filtered
    job.refresh_from_db()
    assert (job.status, job.done, job.failed) == ("done", 4, 0)


@live
def test_unknown_instances_are_reconciled_after_the_grace_period(sandbox_site, make_instance):
    late = make_instance("Never created", status=Status.UNKNOWN)
    fresh = make_instance("Just sent", status=Status.UNKNOWN)
    ElementInstance.objects.filter(pk=late.pk).update(
        updated_at=timezone.now() - timedelta(hours=1)
    )

    assert schedules.run("reconcile_unknown") == "reconciled 1"

    late.refresh_from_db()
    fresh.refresh_from_db()
    assert late.status == Status.FAILED
    assert fresh.status == Status.UNKNOWN


def test_the_re_authorization_count_stops_at_its_cap(client, operator, make_instance, monkeypatch):
    monkeypatch.setattr(jobs, "NOTICE_COUNT_CAP", 2)
    for n in range(3):
        make_instance(f"Invalid {n}", status="active", remote_id=700 + n, remote_valid=False)
    client.force_login(operator)

    page = client.get(reverse("instances:index")).content.decode()
    assert "2+ instances need re-authorization" in page
