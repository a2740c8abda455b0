"""A person opens an event from the instance page's log, reads it and copies its body."""

from __future__ import annotations

import json
import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import log_in
from tests.conftest import PASSWORD
from tests.events.test_event_page import HOSTILE, deliver

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize("viewport", [(1280, 900), (390, 844)])
def test_an_event_opens_from_the_log_and_its_body_copies(
    clipboard_page, make_instance, operator, viewport
):
    page = clipboard_page
    instance = make_instance("Events Dropbox")
    event = deliver(instance)
    page.set_viewport_size({"width": viewport[0], "height": viewport[1]})
    log_in(page, "alice", PASSWORD)
    page.goto(instance.get_absolute_url())
    page.locator("a.event-link").first.click()

    page.wait_for_url(re.compile(rf"/instances/{instance.uuid}/events/{event.pk}/$"))
    expect(
        page.get_by_role("heading", name=re.compile("Events in this notification"))
    ).to_be_visible()
    expect(page.locator(".event-items")).to_contain_text(HOSTILE)  # shown as text, not run
    expect(page.locator("#event-body")).to_contain_text('"eventId": "evt-7f3a"')
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    # No value column narrower than its words (the received time is one line).
    received = page.locator(".facts dd").first.bounding_box()
    assert received["width"] >= 180 and received["height"] < 40

    page.get_by_role("button", name="Copy").click()
    expect(page.locator("#event-body-status")).to_have_text("Copied")
    copied = page.evaluate("navigator.clipboard.readText()")
    assert json.loads(copied) == json.loads(event.body)
