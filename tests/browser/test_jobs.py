"""A person starts a job from the instance list and watches its progress bar fill."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from instances.jobs.models import Job
from instances.sandbox.models import SandboxInstance
from tests.browser.conftest import log_in
from tests.conftest import PASSWORD
from tests.job_helpers import sandboxed, start_worker, worker_env

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_progress_bar_follows_a_job_started_from_the_list(page, operator, make_instance):
    from django.conf import settings

    instances = sandboxed(make_instance, settings.SITE_URL, 40)
    SandboxInstance.objects.filter(pk=instances[5].remote_id).delete()
    log_in(page, "alice", PASSWORD)
    page.goto("/instances/?page=1")
    page.get_by_label("Select Bulk 0005").check()
    for instance in instances[10:39]:
        page.get_by_label(f"Select {instance.name}").check()
    page.get_by_label("Action:").select_option(label="Sync from Cloud Elements")
    page.get_by_role("button", name="Start job").click()

    expect(page.locator(".messagelist")).to_contain_text("Sync from Cloud Elements, 30 instances")
    job = Job.objects.get()
    expect(page.locator("#job-progress")).to_have_attribute("max", "30")
    expect(page.locator("#job-count")).to_have_text("0 of 30 processed")
    page.evaluate("window.notReloaded = true")
    worker = start_worker(worker_env(settings.SITE_URL))
    try:
        # The script moves the bar while the page stays loaded (no reload by anyone).
        page.wait_for_function(
            "() => window.notReloaded && document.getElementById('job-progress').value > 0",
            timeout=30_000,
        )
        expect(page.locator("#job-status")).to_have_text("Done", timeout=60_000)
    finally:
        worker.kill()
        worker.wait()
    expect(page.locator("#job-count")).to_have_text("30 of 30 processed")
    expect(page.locator("#job-failed")).to_have_text("1 failed")
    failure = page.locator("#job-failures").get_by_role("link", name="Bulk 0005")
    expect(failure).to_have_attribute("href", instances[5].get_absolute_url())
    page.get_by_role("button", name="Retry the failed ones").click()
    expect(page.locator(".messagelist")).to_contain_text("Retrying 1 failed instances")
    assert Job.objects.exclude(pk=job.pk).get().retry_of_id == job.pk


def test_the_admin_changelist_links_to_running_jobs(page, operator, make_instance):
    from django.conf import settings

    sandboxed(make_instance, settings.SITE_URL, 3)
    finished = Job.objects.create(kind=Job.Kind.SYNC, status=Job.Status.DONE, total=1, done=1)
    log_in(page, "alice", PASSWORD)
    page.goto("/admin/instances/elementinstance/")
    expect(page.locator(".running-jobs-notice")).to_have_count(0)
    page.get_by_role("row", name="Bulk 0001").get_by_role("checkbox").check()
    page.get_by_label("Action:").select_option(label="Disable at Cloud Elements")
    page.get_by_role("button", name="Go").click()

    # No worker runs here, so the job stays queued and the changelist keeps pointing to it.
    job = Job.objects.exclude(pk=finished.pk).get()
    page.goto("/admin/instances/elementinstance/")
    notice = page.locator(".running-jobs-notice")
    expect(notice).to_contain_text("Job queued: Disable at Cloud Elements, 0 of 1 processed")
    expect(notice.get_by_role("link")).to_have_count(1)
    notice.get_by_role("link").click()
    expect(page).to_have_url(f"{settings.SITE_URL}{job.get_absolute_url()}")
    expect(page.locator("#job-status")).to_have_text("Queued")
