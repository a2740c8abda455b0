"""A person simulates a Dropbox change and watches the signed notification arrive."""

from __future__ import annotations

import pytest
from django.conf import settings
from playwright.sync_api import expect

from instances.events.models import EventNotification
from tests.browser.conftest import log_in
from tests.conftest import PASSWORD
from tests.sandbox_helpers import make_active

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_simulated_change_arrives_verified_and_stops_when_events_are_off(
    page, operator, make_instance
):
    instance = make_active(make_instance, settings.SITE_URL, "Designs")
    log_in(page, "alice", PASSWORD)
    page.goto(instance.get_absolute_url())

    # Turn events on with a signature key, through Cloud Elements.
    page.get_by_role("link", name="Edit").click()
    page.get_by_role("button", name="Generate a strong key").click()
    page.get_by_role("button", name="Save at Cloud Elements").click()
    expect(page.locator(".messagelist")).to_contain_text("Settings saved")
    page.get_by_role("switch", name="Events for Designs").click()
    expect(page.locator(".messagelist")).to_contain_text("events turned on")

    page.get_by_label("Change").select_option("CREATED")
    page.get_by_label("Path").fill("/Designs/logo.svg")
    page.get_by_role("button", name="Simulate").click()
    expect(page.locator(".messagelist")).to_contain_text("the callback answered 200")
    row = page.locator(".events-table tbody tr").first
    expect(row).to_contain_text("CREATED")
    expect(row).to_contain_text("/Designs/logo.svg")
    expect(row).to_contain_text("Verified")
    expect(page.locator(".chart figcaption")).to_contain_text("(1 in all)")

    page.get_by_role("switch", name="Events for Designs").click()
    expect(page.locator(".messagelist")).to_contain_text("events turned off")
    page.get_by_role("button", name="Simulate").click()
    expect(page.locator(".messagelist")).to_contain_text("nothing was delivered")
    assert EventNotification.objects.filter(instance=instance).count() == 1
    expect(page.locator(".events-table tbody tr")).to_have_count(1)
