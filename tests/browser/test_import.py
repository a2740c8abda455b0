"""A newcomer adopts an existing account: Import from Cloud Elements, then acts on every
instance a filter matches (not only the page's rows), and sees the ones skipped, with why."""

from __future__ import annotations

import pytest
from django.conf import settings
from playwright.sync_api import expect

from instances.jobs.models import Job
from instances.models import ElementInstance, Tag
from instances.sandbox.seed import seed
from tests.browser.conftest import log_in
from tests.conftest import PASSWORD
from tests.job_helpers import start_worker, worker_env

pytestmark = pytest.mark.django_db(transaction=True)


def test_import_then_a_job_over_everything_the_filter_matches(page, operator, make_instance):
    seed(instances=60)  # Acme has three instances at Cloud Elements
    drafts = [make_instance(f"Acme draft {n}") for n in range(2)]
    for draft in drafts:
        draft.tags.set(Tag.for_names(["customer:acme"]))
    worker = start_worker(worker_env(settings.SITE_URL))
    try:
        log_in(page, "alice", PASSWORD)
        page.goto("/instances/")
        expect(page.locator("#match-count")).to_have_text("2 instances.")
        page.get_by_role("button", name="Import from Cloud Elements").click()

        expect(page.locator("#job-status")).to_have_text("Done", timeout=60_000)
        expect(page.locator("#job-summary")).to_contain_text("60 imported, 0 already here")
        assert ElementInstance.objects.filter(origin="imported").count() == 60

        page.goto("/instances/")
        expect(page.locator("#match-count")).to_have_text("62 instances.")
        page.locator("#id_tag").select_option("customer:acme")
        page.get_by_role("button", name="Filter").click()
        expect(page.locator("#match-count")).to_have_text("5 instances match these filters.")
        expect(page.locator("#instances").get_by_text("imported")).to_have_count(3)
        # The page shows 5 rows here, but the choice is the filter's, whatever the page holds.
        page.get_by_label("All 5 matching this filter").check()
        page.get_by_label("Action:").select_option(label="Sync from Cloud Elements")
        page.get_by_role("button", name="Start job").click()

        expect(page.locator(".messagelist")).to_contain_text("about 5 instances")
        expect(page.locator("#job-status")).to_have_text("Done", timeout=60_000)
        expect(page.locator("#job-scope")).to_contain_text("Tag: customer:acme")
        expect(page.locator("#job-count")).to_have_text("5 of 5 processed")
        expect(page.locator("#job-succeeded")).to_have_text("3 done")
        expect(page.locator("#job-skipped")).to_have_text("2 skipped")
        expect(page.locator("#job-skipped-items")).to_contain_text("Acme draft 0")
        expect(page.locator("#job-skipped-items")).to_contain_text("is draft, not active")
    finally:
        worker.kill()
        worker.wait()
    job = Job.objects.get(kind=Job.Kind.SYNC)
    assert (job.done, job.skipped, job.failed) == (5, 2, 0)
