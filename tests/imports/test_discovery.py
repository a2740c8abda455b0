"""The scheduled scan: new instances at Cloud Elements are listed for review or imported, as the
setting says; instances deleted there are marked, their history kept."""

from __future__ import annotations

from django.urls import reverse

from instances.cloud_elements import client as ce
from instances.imports.models import DiscoveredInstance
from instances.jobs import schedules
from instances.jobs.models import Job
from instances.models import AuditEntry, ElementInstance
from instances.sandbox.seed import seed
from tests.imports.scan_helpers import local, run_scan
from tests.instances.lifecycle_helpers import live, shown_messages
from tests.sandbox_helpers import create_remote


@live
def test_review_lists_new_instances_until_an_operator_imports_them(
    sandbox_site, settings, client, operator
):
    settings.IMPORT_NEW_INSTANCES = "review"
    seed(instances=3)
    job = run_scan(Job.Kind.DISCOVER)

    assert job.summary["new"] == 3 and not ElementInstance.objects.exists()
    assert DiscoveredInstance.objects.count() == 3
    client.force_login(operator)
    listing = client.get(reverse("instances:index")).text
    assert "3 instances new at Cloud Elements" in listing
    new_page = client.get(reverse("imports:new")).text
    first = DiscoveredInstance.objects.order_by("remote_id").first()
    assert first.name in new_page and "Import all 3" in new_page

    response = client.post(reverse("imports:import_discovered", args=[first.pk]), follow=True)

    imported = ElementInstance.objects.get()
    assert (imported.remote_id, imported.origin) == (first.remote_id, "imported")
    assert shown_messages(response) == [
        ("success", f"Imported “{first.name}” from Cloud Elements.")
    ]
    assert DiscoveredInstance.objects.count() == 2
    # A second scan lists the other two again, not the imported one.
    assert run_scan(Job.Kind.DISCOVER).summary["new"] == 2


@live
def test_auto_imports_what_the_schedule_finds(sandbox_site, settings):
    settings.IMPORT_NEW_INSTANCES = "auto"
    seed(instances=2)

    result = schedules.run("discover")

    job = Job.objects.get(kind=Job.Kind.DISCOVER)
    assert result == f"job {job.pk}"
    from instances.jobs import engine

    engine.run_job(job.pk)  # what the worker runs
    assert ElementInstance.objects.filter(origin="imported").count() == 2
    assert not DiscoveredInstance.objects.exists()
    # While a scan is queued or running the schedule leaves it be.
    Job.objects.filter(pk=job.pk).update(status=Job.Status.RUNNING)
    assert schedules.run("discover") == f"job {job.pk} still scanning"


@live
def test_an_instance_deleted_at_cloud_elements_is_marked_and_kept(
    sandbox_site, settings, client, operator, make_instance
):
    seed(instances=3)
    run_scan()
    gone = ElementInstance.objects.order_by("remote_id").first()
    ce.delete_instance(gone.remote_id)  # by a script, outside the dashboard
    made_here = create_remote(sandbox_site.url, "Made here")
    mine = make_instance("Made here", status="active", remote_id=made_here.id)

    job = run_scan(Job.Kind.DISCOVER)

    gone.refresh_from_db()
    assert job.summary["deleted"] == 1
    assert gone.remote_missing and gone.status == "active"
    assert gone.audit_entries.filter(action=AuditEntry.Action.DELETED_REMOTELY).count() == 1
    assert ElementInstance.objects.filter(remote_missing=True).count() == 1
    mine.refresh_from_db()
    assert not mine.remote_missing  # created here, seen there: known, not new, not gone
    client.force_login(operator)
    listed = client.get(reverse("instances:index"), {"remote": "deleted"}).text
    assert gone.name in listed and "Made here" not in listed
    page = client.get(gone.get_absolute_url()).text
    assert 'id="deleted-remotely"' in page and "Its history and events stay here." in page
    # A later scan does not mark it (or count it) again.
    assert run_scan(Job.Kind.DISCOVER).summary["deleted"] == 0


@live
def test_a_scan_of_an_unchanged_account_touches_no_row(sandbox_site, settings):
    seed(instances=4)
    run_scan()
    before = {row.pk: row.updated_at for row in ElementInstance.objects.all()}

    job = run_scan(Job.Kind.DISCOVER)

    assert (job.summary["known"], job.summary["changed"], job.summary["imported"]) == (4, 0, 0)
    assert {row.pk: row.updated_at for row in ElementInstance.objects.all()} == before
    assert AuditEntry.objects.exclude(action=AuditEntry.Action.IMPORTED).count() == 0
    assert local(ElementInstance.objects.first().remote_id).drifted is False
