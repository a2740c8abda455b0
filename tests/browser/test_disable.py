"""A person disables and enables an instance; Cloud Elements (the sandbox) follows."""

from __future__ import annotations

import pytest
import requests
from django.conf import settings
from playwright.sync_api import expect

from instances.cloud_elements import client as ce
from instances.models import AuditEntry
from tests.browser.conftest import log_in
from tests.conftest import PASSWORD, USER_SECRET
from tests.job_helpers import start_worker, worker_env
from tests.sandbox_helpers import make_active

pytestmark = pytest.mark.django_db(transaction=True)


def hub_status(instance) -> int:
    """What the instance's token opens: a documents-hub call, as an app would make it."""
    url = f"{ce.base_url()}/hubs/documents/folders/contents?path=/"
    header = f"User {USER_SECRET}, Element {ce.get_instance(instance.remote_id).token}"
    session = requests.Session()
    session.trust_env = False  # 127.0.0.1 only, whatever proxy the environment names
    return session.get(url, headers={"Authorization": header}, timeout=10).status_code


def test_disable_and_enable_from_the_instance_page(page, operator, make_instance):
    instance = make_active(make_instance, settings.SITE_URL, "Archive", events=True)
    log_in(page, "alice", PASSWORD)
    page.goto(instance.get_absolute_url())

    page.get_by_role("link", name="Disable", exact=True).click()
    # It stops every API call: a confirmation first, which changes nothing by itself.
    expect(page.get_by_text("Every API call with its token is refused")).to_be_visible()
    assert ce.get_instance(instance.remote_id).disabled is False
    page.get_by_role("button", name="Yes, disable it").click()

    expect(page.locator(".messagelist")).to_contain_text("Archive: disabled at Cloud Elements")
    expect(page.locator(".instance-detail .status", has_text="Disabled")).to_be_visible()
    remote = ce.get_instance(instance.remote_id)
    assert remote.disabled is True
    assert remote.events_enabled is True  # the configuration is kept
    assert hub_status(instance) == 403
    assert instance.audit_entries.filter(action=AuditEntry.Action.DISABLED).exists()

    page.get_by_role("button", name="Enable", exact=True).click()

    expect(page.locator(".messagelist")).to_contain_text("Archive: enabled at Cloud Elements")
    expect(page.locator(".instance-detail .status", has_text="Disabled")).to_have_count(0)
    assert ce.get_instance(instance.remote_id).disabled is False
    assert hub_status(instance) == 200


def test_no_thanks_on_the_confirmation_changes_nothing(page, operator, make_instance):
    instance = make_active(make_instance, settings.SITE_URL, "Kept")
    log_in(page, "alice", PASSWORD)
    page.goto(instance.get_absolute_url())

    page.get_by_role("link", name="Disable", exact=True).click()
    page.get_by_role("link", name="No, take me back").click()

    page.wait_for_url(f"**{instance.get_absolute_url()}")
    assert ce.get_instance(instance.remote_id).disabled is False
    assert not instance.audit_entries.filter(action=AuditEntry.Action.DISABLED).exists()


def test_the_admin_disables_in_bulk_and_filters_disabled_instances(page, operator, make_instance):
    first = make_active(make_instance, settings.SITE_URL, "North")
    make_active(make_instance, settings.SITE_URL, "South")
    log_in(page, "alice", PASSWORD)
    page.goto("/admin/instances/elementinstance/")
    page.get_by_role("row", name="North").get_by_role("checkbox").check()
    page.get_by_label("Action:").select_option(label="Disable at Cloud Elements")
    page.get_by_role("button", name="Go").click()
    # One remote call per instance is long work: the action starts a job, a worker runs it.
    expect(page.locator(".messagelist")).to_contain_text("Disable at Cloud Elements, 1 instances")
    assert ce.get_instance(first.remote_id).disabled is False
    worker = start_worker(worker_env(settings.SITE_URL), "--batch")
    output, _ = worker.communicate(timeout=120)
    assert worker.returncode == 0, output
    page.locator(".messagelist").get_by_role("link", name="job").click()
    expect(page.locator("#job-status")).to_have_text("Done")
    expect(page.locator("#job-count")).to_have_text("1 of 1 processed")
    assert ce.get_instance(first.remote_id).disabled is True

    page.goto("/admin/instances/elementinstance/?remote_disabled__exact=1")

    expect(page.get_by_role("row", name="North")).to_be_visible()
    expect(page.get_by_role("row", name="South")).to_have_count(0)


def test_a_remote_failure_says_so_and_changes_nothing(page, operator, make_instance):
    instance = make_active(make_instance, settings.SITE_URL, "Gone")
    ce.delete_instance(instance.remote_id)  # Cloud Elements will now answer 404.
    log_in(page, "alice", PASSWORD)
    page.goto(instance.get_absolute_url())

    page.get_by_role("link", name="Disable", exact=True).click()
    page.get_by_role("button", name="Yes, disable it").click()

    expect(page.locator(".messagelist .error")).to_contain_text("Gone: not disabled")
    instance.refresh_from_db()
    assert instance.remote_disabled is False
