"""The consent link, shown whole and copied in one click: on the instance page *Copy link again*
puts it on the clipboard without leaving the page; the link page shows all of it, wrapped and
selectable, at a desktop's width and a phone's. Issue 26, item 11."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from instances.links import services as links
from tests.browser.conftest import log_in
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db(transaction=True)
VIEWPORTS = [(1280, 900), (390, 844)]


@pytest.fixture
def link(make_instance, operator):
    instance = make_instance("Copied Link Dropbox")
    return links.make_link(instance=instance, actor=operator, note="bob@customer.example")


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_copy_link_again_copies_without_leaving_the_instance(clipboard_page, link, viewport):
    page = clipboard_page
    page.set_viewport_size({"width": viewport[0], "height": viewport[1]})
    log_in(page, "alice", PASSWORD)
    page.goto(link.instance.get_absolute_url())

    page.get_by_role("button", name="Copy link again").click()

    expect(page.locator("#link-copy-status")).to_have_text("Link copied")
    assert page.evaluate("navigator.clipboard.readText()") == link.get_absolute_url()
    assert page.url.endswith(link.instance.get_absolute_url())


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_the_link_page_shows_the_whole_link(clipboard_page, link, viewport):
    page = clipboard_page
    page.set_viewport_size({"width": viewport[0], "height": viewport[1]})
    log_in(page, "alice", PASSWORD)
    page.goto(link.instance.get_absolute_url())

    page.locator("form[data-copy-link]").evaluate("form => form.submit()")

    shown = page.get_by_label("Consent link")
    expect(shown).to_have_text(link.get_absolute_url())
    assert shown.evaluate("e => e.scrollWidth <= e.clientWidth && e.offsetWidth > 0")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    page.get_by_role("button", name="Copy", exact=True).click()
    expect(page.locator("#copy-status")).to_have_text("Copied")
    assert page.evaluate("navigator.clipboard.readText()") == link.get_absolute_url()
