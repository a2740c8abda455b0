"""A person fixes a failed create: a wrong secret, Edit, the right secret, Retry, Allow."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from instances.cloud_elements import client as ce
from instances.models import ElementInstance
from tests.browser.conftest import log_in
from tests.conftest import PASSWORD
from tests.sandbox_helpers import APP_KEY, APP_SECRET, consent_code

pytestmark = pytest.mark.django_db(transaction=True)

DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


def no_page_wide_scroll(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_a_wrong_secret_is_fixed_on_the_edit_page_then_retried(page, sandbox_site, operator):
    consent_code(sandbox_site.url)  # the sandbox's app now has APP_SECRET as its secret
    page.set_viewport_size(DESKTOP)
    log_in(page, "alice", PASSWORD)
    page.goto("/instances/new/")
    page.get_by_label("Name", exact=True).fill("Fixable Dropbox")
    page.get_by_label("oauth.api.key", exact=True).fill(APP_KEY)
    page.get_by_label("oauth.api.secret", exact=True).fill("a-wrong-secret-0000")
    page.get_by_role("button", name="Create instance").click()

    page.wait_for_url(re.compile(r"/instances/[0-9a-f-]{36}/$"))
    expect(page.locator(".status")).to_have_text("Failed")
    expect(page.locator(".last-error")).to_contain_text("apiSecret does not match")

    page.get_by_role("link", name="Edit", exact=True).click()
    expect(page.get_by_label("Name", exact=True)).to_have_value("Fixable Dropbox")
    secret = page.get_by_label("oauth.api.secret", exact=True)
    expect(secret).to_have_value("")  # never shown
    assert no_page_wide_scroll(page)
    secret.fill(APP_SECRET)
    page.get_by_role("button", name="Save draft").click()

    page.wait_for_url(re.compile(r"/instances/[0-9a-f-]{36}/$"))
    expect(page.locator(".messagelist")).to_contain_text("Choose Retry")
    page.get_by_role("button", name=re.compile("Retry")).click()
    page.get_by_role("button", name="Allow").click()

    page.wait_for_url(re.compile(r"/instances/[0-9a-f-]{36}/$"))
    expect(page.locator(".status")).to_have_text("Active")
    instance = ElementInstance.objects.get(name="Fixable Dropbox")
    assert instance.oauth_api_secret == APP_SECRET
    assert ce.get_instance(instance.remote_id).name == "Fixable Dropbox"


def test_the_draft_edit_page_fits_a_phone(page, make_instance, operator):
    instance = make_instance("Phone Draft", status=ElementInstance.Status.FAILED)
    page.set_viewport_size(PHONE)
    log_in(page, "alice", PASSWORD)
    page.goto(f"/instances/{instance.uuid}/edit/")
    expect(page.get_by_role("button", name="Save draft")).to_be_visible()
    assert no_page_wide_scroll(page)
