"""Events without a signature key: the warning, and generating a key from it."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import log_in
from tests.conftest import PASSWORD
from tests.sandbox_helpers import make_active

pytestmark = pytest.mark.django_db(transaction=True)

WARNING = "anyone who knows the Event Notification Callback URL can post events"


def test_the_new_form_warns_while_events_are_on_without_a_key(page, operator):
    log_in(page, "alice", PASSWORD)
    page.goto("/instances/new/")
    warning = page.get_by_text(WARNING)
    expect(warning).to_be_hidden()  # events are off by default
    page.get_by_label("Events Enabled").check()
    expect(warning).to_be_visible()
    page.get_by_role("button", name="Generate a strong key").click()
    expect(warning).to_be_hidden()


@pytest.mark.parametrize("viewport", [(1280, 900), (390, 844)])
def test_the_instance_page_leads_to_generating_a_key(
    page, sandbox_site, make_instance, operator, viewport
):
    instance = make_active(make_instance, sandbox_site.url, "Unsigned Dropbox", events=True)
    page.set_viewport_size({"width": viewport[0], "height": viewport[1]})
    log_in(page, "alice", PASSWORD)
    page.goto(instance.get_absolute_url())
    expect(page.get_by_text(WARNING)).to_be_visible()
    page.get_by_role("link", name="Add a signature key").click()

    page.wait_for_url(f"**/instances/{instance.uuid}/edit/")
    expect(page.get_by_text(WARNING)).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    page.get_by_role("button", name="Generate a strong key").click()
    expect(page.get_by_text(WARNING)).to_be_hidden()
    page.get_by_role("button", name="Save at Cloud Elements").click()

    page.wait_for_url(f"**/instances/{instance.uuid}/")
    expect(page.get_by_role("button", name="Reveal")).to_be_visible()
    expect(page.get_by_text(WARNING)).to_have_count(0)
    instance.webhook.refresh_from_db()
    assert len(instance.webhook.signature_key) >= 43
