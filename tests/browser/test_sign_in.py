"""A person is locked out after wrong passwords, enrols an authenticator, and signs in with it."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from instances.accounts.models import Authenticator
from tests.browser.conftest import log_in
from tests.conftest import PASSWORD
from tests.two_factor_helpers import totp_code

pytestmark = pytest.mark.django_db(transaction=True)


def submit_password(page, username: str, password: str) -> None:
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()


def test_repeated_wrong_passwords_show_the_lock_out_page(page, operator, settings):
    settings.AXES_FAILURE_LIMIT = 3
    page.goto("/admin/login/")
    for _ in range(2):
        submit_password(page, "alice", "wrong")
        expect(page.locator(".errornote")).to_contain_text("correct username and password")
    submit_password(page, "alice", "wrong")
    expect(page.get_by_role("alert")).to_contain_text("Too many failed log-ins")

    page.get_by_role("link", name="Back to the log-in page").click()
    submit_password(page, "alice", PASSWORD)
    expect(page.get_by_role("alert")).to_contain_text("locked from your address for 15 minutes")
    expect(page.locator("#site-name")).to_contain_text("Cloud Elements instances")


def test_an_operator_enrols_an_authenticator_and_signs_in_with_a_code(page, operator):
    log_in(page, "alice", PASSWORD)
    page.get_by_role("link", name="Two-factor").click()
    expect(page.get_by_role("img", name="QR code of the authenticator setup link")).to_be_visible()
    secret = page.locator("#secret-key").inner_text()
    device = Authenticator.objects.get(user=operator, confirmed=False)
    assert secret.replace(" ", "") in device.config_url

    page.get_by_label("Code").fill(totp_code(device))
    page.get_by_role("button", name="Turn on two-factor authentication").click()
    expect(page.locator("#recovery-codes li")).to_have_count(10)
    page.get_by_role("link", name="Continue").click()
    page.wait_for_url("**/instances/")

    page.get_by_role("button", name="Log out").click()
    page.goto("/admin/login/?next=/instances/")
    submit_password(page, "alice", PASSWORD)
    page.wait_for_url("**/account/two-factor/verify/")
    page.get_by_label("Code").fill("000000" if totp_code(device) != "000000" else "111111")
    page.get_by_role("button", name="Verify").click()
    expect(page.get_by_role("alert")).to_contain_text("not valid")

    page.wait_for_timeout(1100)  # django-otp's throttling: one second after one wrong code
    page.get_by_label("Code").fill(totp_code(device, steps_ahead=1))
    page.get_by_role("button", name="Verify").click()
    page.wait_for_url("**/instances/")
    expect(page.locator("#user-tools")).to_contain_text("alice")


def test_the_enrolment_page_fits_a_phone(browser, sandbox_site, operator):
    context = browser.new_context(base_url=sandbox_site.url, viewport={"width": 390, "height": 844})
    page = context.new_page()
    try:
        log_in(page, "alice", PASSWORD)
        page.goto("/account/two-factor/")
        expect(page.locator("#secret-key")).to_be_visible()
        widths = page.evaluate(
            "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
        )
        assert widths[0] <= widths[1], f"page-wide horizontal scroll: {widths}"
        box = page.get_by_role("img", name="QR code of the authenticator setup link").bounding_box()
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= 390
    finally:
        context.close()
