"""A person starts a job from the instance list and watches its progress bar fill."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from instances.job_models import Job
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
    page.get_by_label("With the checked instances:").select_option(label="Sync from Cloud Elements")
    page.get_by_role("button", name="Start job").click()

    expect(page.locator(".messagelist")).to_contain_text("Sync from Cloud Elements, 30 instances")
    job = Job.objects.get()
    expect(page.locator("#job-progress")).to_have_attribute("max", "30")
    expect(page.locator("#job-count")).to_have_text("0 of 30 done")
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
    expect(page.locator("#job-count")).to_have_text("30 of 30 done")
    expect(page.locator("#job-failed")).to_have_text("1 failed")
    failure = page.locator("#job-failures").get_by_role("link", name="Bulk 0005")
    expect(failure).to_have_attribute("href", instances[5].get_absolute_url())
    page.get_by_role("button", name="Retry the failed ones").click()
    expect(page.locator(".messagelist")).to_contain_text("Retrying 1 failed instances")
    assert Job.objects.exclude(pk=job.pk).get().retry_of_id == job.pk
