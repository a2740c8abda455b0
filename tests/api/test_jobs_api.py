"""`/api/v1/jobs`: start a bulk job over instances (by uuid) or over a filter, read its
progress, cancel it. The worker is run in-process (engine.run_job), as a task worker would."""

from __future__ import annotations

from instances.jobs import engine
from instances.jobs.models import Job
from instances.models import ElementInstance, Tag
from tests.api.conftest import live, ok, refused
from tests.job_helpers import sandboxed


@live
def test_a_job_over_instances_given_by_uuid(alice, make_instance, sandbox_site, operator):
    fleet = sandboxed(make_instance, sandbox_site.url, 3, prefix="Fleet")
    make_instance("Left alone")

    body = ok(
        alice.post("/jobs", json={"kind": "events_on", "instances": [str(i.uuid) for i in fleet]}),
        201,
    )

    job = Job.objects.get()
    assert body == {
        "id": job.pk,
        "kind": "events_on",
        "status": "queued",
        "total": 3,
        "done": 0,
        "failed": 0,
        "skipped": 0,
        "created_at": body["created_at"],
        "started_at": None,
        "finished_at": None,
        "url": sandbox_site.url + job.get_absolute_url(),
    }
    assert job.created_by == operator
    assert set(job.items.values_list("instance_id", flat=True)) == {i.pk for i in fleet}

    assert engine.run_job(job.pk) == "done"

    done = ok(alice.get(f"/jobs/{job.pk}"))
    assert (done["status"], done["done"], done["failed"], done["skipped"]) == ("done", 3, 0, 0)
    assert done["started_at"] and done["finished_at"]
    listed = ok(alice.get("/instances", params={"events": "on"}))["items"]
    assert sorted(i["name"] for i in listed) == ["Fleet 0000", "Fleet 0001", "Fleet 0002"]


@live
def test_a_job_over_a_filter(alice, make_instance, sandbox_site):
    active = sandboxed(make_instance, sandbox_site.url, 2, prefix="Tagged")
    draft = make_instance("Tagged draft")
    make_instance("Untagged", status=ElementInstance.Status.ACTIVE, remote_id=555)
    for instance in [*active, draft]:
        instance.tags.set(Tag.for_names(["fleet"]))

    body = ok(alice.post("/jobs", json={"kind": "sync", "filter": {"tag": "fleet"}}), 201)

    job = Job.objects.get(pk=body["id"])
    assert (body["kind"], body["status"], body["total"]) == ("sync", "queued", 3)
    assert job.scope["query"] == "tag=fleet" and job.items_ready is False
    assert engine.run_job(job.pk) == "done"
    done = ok(alice.get(f"/jobs/{job.pk}"))
    # The draft has nothing at Cloud Elements: skipped, with its reason, never synced.
    assert (done["status"], done["total"], done["done"], done["skipped"]) == ("done", 3, 3, 1)
    assert set(job.items.values_list("instance_id", flat=True)) == {i.pk for i in [*active, draft]}


@live
def test_cancel_a_queued_job(alice, make_instance, sandbox_site, operator):
    fleet = sandboxed(make_instance, sandbox_site.url, 2, prefix="Cancelled")
    job = ok(alice.post("/jobs", json={"kind": "disable", "instances": [str(fleet[0].uuid)]}), 201)

    cancelled = ok(alice.post(f"/jobs/{job['id']}/cancel"))

    assert cancelled["status"] == "cancelled" and cancelled["finished_at"]
    row = Job.objects.get(pk=job["id"])
    assert row.cancelled_by == operator
    # The worker that reaches it does nothing.
    assert engine.run_job(row.pk) == "not claimed"
    fleet[0].refresh_from_db()
    assert fleet[0].remote_disabled is False
    assert ok(alice.get(f"/jobs/{job['id']}"))["status"] == "cancelled"
    body = refused(alice.post(f"/jobs/{job['id']}/cancel"), 409)
    assert "already cancelled" in body["detail"]
