"""A person reveals a signature key: Reveal, the password, the key, Copy."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from instances.models import AuditEntry, ElementInstance
from tests.browser.conftest import log_in
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db(transaction=True)

KEY = "signature-key-to-reveal-Qm42x-0123456789abcdef"


@pytest.mark.parametrize("viewport", [(1280, 900), (390, 844)])
def test_reveal_asks_for_the_password_then_shows_and_copies_the_key(
    clipboard_page, make_instance, operator, viewport
):
    page = clipboard_page
    instance = make_instance("Signed Dropbox", status=ElementInstance.Status.ACTIVE, remote_id=9)
    instance.webhook.signature_key = KEY
    instance.webhook.save()
    page.set_viewport_size({"width": viewport[0], "height": viewport[1]})
    log_in(page, "alice", PASSWORD)
    page.goto(instance.get_absolute_url())
    expect(page.locator("body")).not_to_contain_text(KEY)
    page.get_by_role("button", name="Reveal").click()

    expect(page.get_by_role("heading", name="Confirm your password")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    page.get_by_label("Password").fill("not my password")
    page.get_by_role("button", name="Confirm and reveal").click()
    expect(page.locator(".errornote")).to_have_text("That is not your password.")
    expect(page.locator("body")).not_to_contain_text(KEY)

    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Confirm and reveal").click()
    expect(page.locator("#signature-key")).to_have_text(KEY)
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    page.get_by_role("button", name="Copy").click()
    expect(page.locator("#signature-key-status")).to_have_text("Copied")
    assert page.evaluate("navigator.clipboard.readText()") == KEY
    assert instance.audit_entries.filter(action=AuditEntry.Action.KEY_REVEALED).count() == 1

    page.get_by_role("link", name=re.compile("Back to")).click()
    page.get_by_role("button", name="Reveal").click()  # within the window: no password asked
    expect(page.locator("#signature-key")).to_have_text(KEY)
