"""Acting on every instance a filter matches, not only the rows on the page: the list says how
many match, the job is started from the filter (recorded on it), its worker makes the items, and
instances the action does not apply to are counted as skipped, with their reason, never as done."""

from __future__ import annotations

from django.urls import reverse

from instances.jobs import engine
from instances.jobs.models import Job
from instances.models import Tag
from tests.instances.lifecycle_helpers import live, shown_messages
from tests.job_helpers import sandboxed


@live
def test_a_job_over_every_instance_matching_the_filter(
    sandbox_site, settings, client, operator, make_instance
):
    active = sandboxed(make_instance, sandbox_site.url, 3, prefix="Fleet")
    drafts = [make_instance(f"Fleet draft {n}") for n in range(2)]
    make_instance("Not in the fleet")
    fleet = Tag.for_names(["fleet"])
    for instance in [*active, *drafts]:
        instance.tags.set(fleet)
    client.force_login(operator)

    listing = client.get(reverse("instances:index"), {"tag": "fleet"}).text
    assert "5 instances match these filters." in listing
    assert "All 5 matching this filter" in listing
    response = client.post(
        reverse("jobs:bulk"),
        {"scope": "filter", "query": "tag=fleet", "action": "sync"},
        follow=True,
    )

    job = Job.objects.get()
    assert shown_messages(response) == [
        ("success", f"Started job {job.pk}: Sync from Cloud Elements, about 5 instances.")
    ]
    assert (job.items_ready, job.scope["query"], job.scope["words"]) == (
        False,
        "tag=fleet",
        ["Tag: fleet"],
    )
    assert not job.items.exists()  # made by the worker, not in the request
    assert engine.run_job(job.pk) == "done"
    job.refresh_from_db()
    assert (job.total, job.done, job.failed, job.skipped) == (5, 5, 0, 2)
    assert set(job.items.values_list("instance_id", flat=True)) == {
        i.pk for i in [*active, *drafts]
    }
    page = client.get(job.get_absolute_url()).text
    assert "the instances matching Tag: fleet" in page
    assert '3 done</span>, <span id="job-skipped">2 skipped</span>' in page
    assert "Fleet draft 0</a>: “Fleet draft 0” is draft, not active at Cloud Elements" in page


@live
def test_a_filter_that_matches_nothing_starts_no_job(client, operator, make_instance):
    make_instance("Alone")
    client.force_login(operator)

    response = client.post(
        reverse("jobs:bulk"),
        {"scope": "filter", "query": "q=nothing-like-this", "action": "sync"},
        follow=True,
    )

    assert not Job.objects.exists()
    assert shown_messages(response) == [
        ("error", "No instance matches this filter, so no job was started.")
    ]


@live
def test_a_resumed_worker_makes_each_item_once(sandbox_site, settings, operator, make_instance):
    settings.JOB_LEASE_SECONDS = 0  # the first worker's lease is gone at once
    for n in range(4):
        make_instance(f"Draft {n}")
    from instances.jobs import services as jobs

    job = jobs.start_filter_job(kind=Job.Kind.SYNC, query="", actor=operator)
    # A worker that died after making the items (and before marking them ready) left this:
    engine.claim(job.pk)
    job.refresh_from_db()
    engine._make_items(job)
    Job.objects.filter(pk=job.pk).update(items_ready=False, status=Job.Status.QUEUED)

    assert engine.run_job(job.pk) == "done"

    job.refresh_from_db()
    assert job.items.count() == 4 and (job.total, job.skipped) == (4, 4)
