"""A person logs in, sees the instance list, opens an instance and the admin review."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from instances.models import ElementInstance
from tests.browser.conftest import log_in
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db(transaction=True)


def test_an_operator_logs_in_and_reviews_instances(page, operator, make_instance):
    make_instance(
        "Finance Dropbox",
        tags=["finance"],
        status=ElementInstance.Status.ACTIVE,
        remote_id=58992,
        oauth_api_secret="app-secret-very-long-4567",
    )
    log_in(page, "alice", PASSWORD)

    row = page.get_by_role("row", name="Finance Dropbox")
    expect(row).to_contain_text("Active")
    expect(row).to_contain_text("58992")
    row.get_by_role("link", name="Finance Dropbox").click()
    expect(page.get_by_role("heading", name="Finance Dropbox")).to_be_visible()
    expect(page.locator("body")).to_contain_text("••••4567")
    expect(page.locator("body")).not_to_contain_text("app-secret-very-long")

    page.get_by_role("link", name="Admin").click()
    page.locator("#instances-elementinstance").get_by_role("link", name="Element instances").click()
    expect(page.locator("#result_list")).to_contain_text("Finance Dropbox")
    page.get_by_role("link", name="Active", exact=True).first.click()
    expect(page.locator("#result_list")).to_contain_text("58992")


def test_the_login_page_refuses_a_wrong_password(page, operator):
    page.goto("/admin/login/")
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill("wrong")
    page.get_by_role("button", name="Log in").click()
    expect(page.locator(".errornote")).to_be_visible()
