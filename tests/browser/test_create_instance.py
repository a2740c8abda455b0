"""A person creates an instance end to end: the form, Dropbox's consent screen, the result."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from instances.cloud_elements import client as ce
from instances.models import ElementInstance
from tests.browser.conftest import log_in
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db(transaction=True)


def fill_form(page, name: str) -> None:
    page.goto("/instances/new/")
    page.get_by_label("Name", exact=True).fill(name)
    expect(page.get_by_label("key", exact=True)).to_have_value("dropbox")
    expect(page.get_by_label("oauth2")).to_be_checked()
    page.get_by_label("oauth.api.key", exact=True).fill("sandbox-app-key")
    page.get_by_label("oauth.api.secret", exact=True).fill("sandbox-app-secret-0001")
    page.get_by_label("Events Enabled").check()
    page.get_by_role("button", name="Generate a strong key").click()
    page.get_by_label("tags", exact=True).fill("finance, eu\nfinance")


def test_an_operator_creates_an_instance_through_the_consent_screen(page, operator):
    log_in(page, "alice", PASSWORD)
    fill_form(page, "Finance Dropbox")
    expect(page.get_by_label("oauth.callback.url", exact=True)).to_have_value(
        re.compile(r"/instances/oauth/callback/$")
    )
    callback = page.get_by_label("Event Notification Callback URL").input_value()
    page.get_by_role("button", name="Create instance").click()

    expect(page.get_by_role("button", name="Allow")).to_be_visible()
    expect(page.get_by_role("button", name="Deny")).to_be_visible()
    page.get_by_role("button", name="Allow").click()

    page.wait_for_url(re.compile(r"/instances/[0-9a-f-]{36}/$"))
    assert "code=" not in page.url and "state=" not in page.url
    expect(page.locator(".status")).to_have_text("Active")
    instance = ElementInstance.objects.get(name="Finance Dropbox")
    expect(page.locator("body")).to_contain_text(str(instance.remote_id))

    remote = ce.get_instance(instance.remote_id)
    assert remote.name == "Finance Dropbox"
    assert sorted(remote.tags) == ["eu", "finance"]
    assert remote.events_enabled is True
    assert remote.configuration["event.notification.callback.url"] == callback
    assert remote.configuration["event.notification.signature.key"] == "********"
    assert len(instance.webhook.signature_key) >= 43


def test_denying_consent_keeps_the_draft_and_says_why(page, operator):
    log_in(page, "alice", PASSWORD)
    fill_form(page, "Denied Dropbox")
    page.get_by_role("button", name="Create instance").click()
    page.get_by_role("button", name="Deny").click()

    page.wait_for_url(re.compile(r"/instances/[0-9a-f-]{36}/$"))
    expect(page.locator(".status")).to_have_text("Draft")
    expect(page.locator(".last-error")).to_contain_text("access_denied")
    expect(page.locator(".last-error")).to_contain_text("chose not to give your app access")
    expect(page.get_by_role("button", name=re.compile("Retry"))).to_be_visible()
    assert ElementInstance.objects.get(name="Denied Dropbox").remote_id is None
    assert ce.list_instances(search_text="Denied Dropbox") == []


def test_the_form_works_without_javascript(browser, sandbox_site, operator):
    context = browser.new_context(base_url=sandbox_site.url, java_script_enabled=False)
    page = context.new_page()
    log_in(page, "alice", PASSWORD)
    page.goto("/instances/new/")
    page.get_by_label("Name", exact=True).fill("No Script")
    page.get_by_label("oauth.api.key", exact=True).fill("sandbox-app-key")
    page.get_by_label("oauth.api.secret", exact=True).fill("sandbox-app-secret-0001")
    page.get_by_role("button", name="Create instance").click()
    page.get_by_role("button", name="Allow").click()
    expect(page.locator(".status")).to_have_text("Active")
    context.close()
