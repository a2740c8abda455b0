"""A person toggles event notifications and sees Cloud Elements follow (or refuse)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from instances.cloud_elements import client as ce
from tests.browser.conftest import log_in
from tests.conftest import PASSWORD
from tests.job_helpers import start_worker, worker_env
from tests.sandbox_helpers import make_active

pytestmark = pytest.mark.django_db(transaction=True)


def test_events_toggle_from_the_list_reaches_cloud_elements(page, operator, make_instance):
    instance = make_active(make_instance, _site(page), "Sales")
    log_in(page, "alice", PASSWORD)

    switch = page.get_by_role("switch", name="Events for Sales")
    expect(switch).to_have_attribute("aria-checked", "false")
    switch.click()
    expect(page.locator(".messagelist")).to_contain_text("Sales: events turned on")
    expect(page.get_by_role("switch", name="Events for Sales")).to_have_attribute(
        "aria-checked", "true"
    )
    assert ce.get_instance(instance.remote_id).events_enabled is True

    page.get_by_role("switch", name="Events for Sales").click()
    expect(page.get_by_role("switch", name="Events for Sales")).to_have_attribute(
        "aria-checked", "false"
    )
    assert ce.get_instance(instance.remote_id).events_enabled is False


def test_events_toggle_from_the_instance_page(page, operator, make_instance):
    instance = make_active(make_instance, _site(page), "Legal")
    log_in(page, "alice", PASSWORD)
    page.goto(instance.get_absolute_url())
    page.get_by_role("switch", name="Events for Legal").click()
    expect(page.locator(".messagelist")).to_contain_text("Legal: events turned on")
    assert ce.get_instance(instance.remote_id).events_enabled is True


def test_an_admin_bulk_action_toggles_each_instance(page, operator, make_instance):
    first = make_active(make_instance, _site(page), "North")
    second = make_active(make_instance, _site(page), "South")
    log_in(page, "alice", PASSWORD)
    page.goto("/admin/instances/elementinstance/")
    page.get_by_role("row", name="North").get_by_role("checkbox").check()
    page.get_by_role("row", name="South").get_by_role("checkbox").check()
    page.get_by_label("Action:").select_option(label="Enable event notifications")
    page.get_by_role("button", name="Go").click()
    # A bulk action is a job (issue 12): the message links to its page; a worker runs it.
    expect(page.locator(".messagelist")).to_contain_text("Turn events on, 2 instances")
    page.locator(".messagelist").get_by_role("link").click()
    expect(page.locator("#job-status")).to_have_text("Queued")
    worker = start_worker(worker_env(_site(page)), "--batch")
    assert worker.wait(timeout=60) == 0
    expect(page.locator("#job-status")).to_have_text("Done")
    expect(page.locator("#job-count")).to_have_text("2 of 2 processed")
    assert ce.get_instance(first.remote_id).events_enabled is True
    assert ce.get_instance(second.remote_id).events_enabled is True


def test_a_remote_failure_shows_why_and_leaves_the_toggle(page, operator, make_instance):
    instance = make_active(make_instance, _site(page), "Gone")
    ce.delete_instance(instance.remote_id)  # Cloud Elements will now answer 404.
    log_in(page, "alice", PASSWORD)
    page.get_by_role("switch", name="Events for Gone").click()
    expect(page.locator(".messagelist .error")).to_contain_text("events are still off")
    expect(page.locator(".messagelist .error")).to_contain_text("No element instance found")
    expect(page.get_by_role("switch", name="Events for Gone")).to_have_attribute(
        "aria-checked", "false"
    )
    instance.webhook.refresh_from_db()
    assert instance.webhook.enabled is False


def _site(page) -> str:
    from django.conf import settings

    return settings.SITE_URL
