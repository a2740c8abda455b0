"""The operator types localhost while SITE_URL says 127.0.0.1 (or the other way round)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from instances.models import ElementInstance
from tests.browser.conftest import log_in
from tests.conftest import PASSWORD
from tests.sandbox_helpers import APP_KEY, APP_SECRET

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def other_name(browser, live_server, settings):
    """A browser on http://localhost:PORT while SITE_URL is http://127.0.0.1:PORT."""
    assert "//localhost:" in live_server.url
    settings.DEBUG = True
    settings.CLOUD_ELEMENTS_BASE_URL = ""
    settings.SITE_URL = live_server.url.replace("//localhost:", "//127.0.0.1:")
    context = browser.new_context(base_url=live_server.url)
    context.set_default_timeout(15_000)
    yield context.new_page(), settings.SITE_URL
    context.close()


def test_an_instance_created_via_another_loopback_name_becomes_active(other_name, operator):
    page, site_url = other_name
    log_in(page, "alice", PASSWORD)
    assert page.url.startswith(site_url + "/")

    page.goto("/instances/new/")  # typed with localhost again
    assert page.url == site_url + "/instances/new/"
    page.get_by_label("Name", exact=True).fill("Elsewhere")
    page.get_by_label("oauth.api.key", exact=True).fill(APP_KEY)
    page.get_by_label("oauth.api.secret", exact=True).fill(APP_SECRET)
    page.get_by_role("button", name="Create instance").click()
    page.get_by_role("button", name="Allow").click()

    page.wait_for_url(re.compile(r"/instances/[0-9a-f-]{36}/$"))
    expect(page.locator(".status")).to_have_text("Active")
    assert ElementInstance.objects.get().status == ElementInstance.Status.ACTIVE
