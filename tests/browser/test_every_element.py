"""Every element of the sandbox's catalog created end to end through the browser: chosen in
the picker, its form built from its metadata, its consent screen (or none for an API key), and
the exact `POST /instances` JSON the sandbox received."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from instances.models import ElementInstance
from instances.sandbox import api as sandbox_api
from tests.browser.conftest import log_in
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def received(monkeypatch):
    """The bodies of `POST /instances` as the sandbox received them (the live server runs in
    this process), each still created by the sandbox as before."""
    bodies = []
    real = sandbox_api.create

    def create(body, **kwargs):
        bodies.append(body)
        return real(body, **kwargs)

    monkeypatch.setattr(sandbox_api, "create", create)
    return bodies


def choose(page, typed: str, name: str, unlike: str) -> None:
    """Find an element in the picker by typing (an element `unlike` it disappears), and open
    its form."""
    page.goto("/instances/new/")
    page.get_by_label("Find an element by name or key").fill(typed)
    picker = page.locator("#element-list")
    expect(picker.get_by_role("link", name=re.compile(name))).to_be_visible()
    expect(picker.get_by_role("link", name=re.compile(unlike))).to_be_hidden()
    picker.get_by_role("link", name=re.compile(name)).click()
    expect(picker.locator("a[aria-current]")).to_contain_text(name)


def test_box_through_its_consent_screen_with_the_json_its_metadata_implies(
    page, operator, received
):
    log_in(page, "alice", PASSWORD)
    choose(page, "box", "Box", "Google Drive")
    expect(page.get_by_label("key", exact=True)).to_have_value("box")
    expect(page.get_by_label("key", exact=True)).to_be_disabled()
    expect(page.locator(".field-oauth_api_key .help")).to_have_text(
        "OAuth 2.0 authentication only. The Client ID from Box."
    )
    # Box offers oauth2 only: no API key field, and no setup page written for Dropbox.
    expect(page.get_by_label("apiKey")).to_have_count(0)
    expect(page.get_by_role("link", name="How to set up the Dropbox app")).to_have_count(0)
    page.get_by_label("Name", exact=True).fill("Legal Box")
    page.get_by_label("oauth.api.key", exact=True).fill("box-app-key")
    page.get_by_label("oauth.api.secret", exact=True).fill("box-app-secret-0001")
    page.get_by_label("Events Enabled").check()
    page.get_by_role("button", name="Generate a strong key").click()
    page.get_by_label("tags", exact=True).fill("legal")
    callback = page.get_by_label("Event Notification Callback URL").input_value()
    redirect = page.get_by_label("oauth.callback.url", exact=True).input_value()
    page.get_by_role("button", name="Create instance").click()

    expect(page.locator(".sandbox-note")).to_have_text(
        "Sandbox: this page stands in for Box's consent screen."
    )
    expect(page.get_by_role("heading", level=1)).to_contain_text("your Box account")
    page.get_by_role("button", name="Allow").click()
    page.wait_for_url(re.compile(r"/instances/[0-9a-f-]{36}/$"))
    expect(page.locator(".status")).to_have_text("Active")
    expect(page.locator("#element-badge")).to_have_text("Box")

    instance = ElementInstance.objects.select_related("webhook").get(name="Legal Box")
    [body] = received
    assert list(body) == ["element", "providerData", "configuration", "tags", "name"]
    assert body["element"] == {"key": "box"} and body["providerData"]["code"]
    assert list(body["configuration"].items()) == [
        ("oauth.api.key", "box-app-key"),
        ("oauth.api.secret", "box-app-secret-0001"),
        ("oauth.callback.url", redirect),
        ("event.notification.enabled", True),
        ("event.notification.callback.url", callback),
        ("event.notification.signature.key", instance.webhook.signature_key),
    ]
    assert body["tags"] == ["legal"] and body["name"] == "Legal Box"
    assert instance.element_key == "box" and instance.extras == []

    # Its events reach the receiver and are verified with its key, as a Dropbox instance's.
    expect(page.locator(".simulate legend")).to_contain_text("Simulate a change in Box")
    page.get_by_label("Path").fill("/Contracts/nda.pdf")
    page.get_by_role("button", name="Simulate").click()
    expect(page.locator(".messagelist")).to_contain_text("the callback answered 200")
    row = page.locator(".events-table tbody tr").first
    expect(row).to_contain_text("/Contracts/nda.pdf")
    expect(row).to_contain_text("Verified")


def test_an_api_key_element_without_events_needs_no_consent_and_sends_no_event_settings(
    page, operator, received
):
    log_in(page, "alice", PASSWORD)
    choose(page, "sandboxpay", "Sandbox Pay", "Sandbox CRM")
    # Its metadata says: apiKey only, no events, a secret and a boolean of its own.
    expect(page.locator("#no-events")).to_contain_text("Sandbox Pay sends no events")
    expect(page.get_by_label("Events Enabled")).to_have_count(0)
    expect(page.get_by_label("oauth.api.key", exact=True)).to_have_count(0)
    expect(page.get_by_label("apiKey")).to_be_checked()
    expect(page.get_by_role("button", name="Send a consent link instead")).to_have_count(0)
    api_key = page.get_by_label("API key", exact=True)
    expect(api_key).to_have_attribute("type", "password")
    test_mode = page.get_by_label("Test mode")
    expect(test_mode).to_be_checked()  # its default, "true"
    page.get_by_label("Name", exact=True).fill("Shop payments")
    api_key.fill("sk_test_0123456789abcdef")
    test_mode.uncheck()
    page.get_by_role("button", name="Create instance").click()

    page.wait_for_url(re.compile(r"/instances/[0-9a-f-]{36}/$"))
    expect(page.locator(".status")).to_have_text("Active")
    expect(page.locator("#element-badge")).to_have_text("Sandbox Pay")
    expect(page.locator("body")).not_to_contain_text("sk_test_0123456789abcdef")
    [body] = received
    assert body == {
        "element": {"key": "sandboxpay"},
        "configuration": {
            "authentication.type": "apiKey",
            "api.key": "sk_test_0123456789abcdef",
            "api.environment.sandbox": False,
        },
        "tags": [],
        "name": "Shop payments",
    }
    instance = ElementInstance.objects.get(name="Shop payments")
    assert instance.extras == [("api.environment.sandbox", False, False)]
    assert instance.sends_events is False and instance.webhook.enabled is False


def test_a_polling_element_takes_its_poller_settings_instead_of_a_signature_key(
    page, operator, received
):
    log_in(page, "alice", PASSWORD)
    choose(page, "drive", "Google Drive", "Dropbox")
    events = page.locator("#event-notifications")
    expect(events).to_contain_text("Google Drive events come from polling")
    expect(page.get_by_label("Callback Notification Signature Key")).to_have_count(0)
    interval = page.get_by_label("Event poller refresh interval (mins)")
    expect(interval).to_have_value("15")
    expect(page.get_by_label("Objects to poll")).to_have_value("files")
    expect(events.locator(".field-param_event_poller_refresh_interval")).to_contain_text(
        "Required with Events Enabled"
    )
    page.get_by_label("Name", exact=True).fill("Design Drive")
    page.get_by_label("oauth.api.key", exact=True).fill("google-client-id")
    page.get_by_label("oauth.api.secret", exact=True).fill("google-client-secret-01")
    page.get_by_label("Events Enabled").check()
    interval.fill("")
    page.get_by_role("button", name="Create instance").click()

    # A required poller setting left blank: refused here, nothing sent, what was typed kept.
    expect(page.locator(".field-param_event_poller_refresh_interval")).to_contain_text(
        "This field is required with Events Enabled."
    )
    expect(page.get_by_label("Name", exact=True)).to_have_value("Design Drive")
    assert received == [] and not ElementInstance.objects.filter(name="Design Drive").exists()
    page.get_by_label("oauth.api.secret", exact=True).fill("google-client-secret-01")
    page.get_by_label("Event poller refresh interval (mins)").fill("5")
    page.get_by_label("Objects to poll").select_option(label="Files and folders")
    callback = page.get_by_label("Event Notification Callback URL").input_value()
    page.get_by_role("button", name="Create instance").click()
    expect(page.locator(".sandbox-note")).to_contain_text("Google Drive's consent screen")
    page.get_by_role("button", name="Allow").click()
    page.wait_for_url(re.compile(r"/instances/[0-9a-f-]{36}/$"))
    expect(page.locator(".status")).to_have_text("Active")

    [body] = received
    assert body["element"] == {"key": "googledrive"}
    assert list(body["configuration"].items())[3:] == [
        ("event.notification.enabled", True),
        ("event.notification.callback.url", callback),
        ("event.poller.refresh_interval", "5"),
        ("event.poller.objects", "files,folders"),
    ]
    assert list(body["configuration"])[:3] == [
        "oauth.api.key",
        "oauth.api.secret",
        "oauth.callback.url",
    ]


def test_a_choice_a_boolean_and_an_unknown_type_are_sent_as_chosen(page, operator, received):
    log_in(page, "alice", PASSWORD)
    page.goto("/instances/new/?element=sandboxcrm")
    settings = page.locator("#element-parameters")
    expect(settings.get_by_role("heading")).to_have_text("Sandbox CRM settings")
    page.get_by_label("Data region").select_option("eu")
    page.get_by_label("Include archived records").check()
    # NUMBER is no type the dashboard knows: a text field with its default.
    expect(page.get_by_label("Page size")).to_have_attribute("type", "text")
    page.get_by_label("Page size").fill("250")
    page.get_by_label("Name", exact=True).fill("Sales CRM")
    page.get_by_label("oauth.api.key", exact=True).fill("crm-client")
    page.get_by_label("oauth.api.secret", exact=True).fill("crm-client-secret-01")
    page.get_by_role("button", name="Create instance").click()
    expect(page.locator(".sandbox-note")).to_contain_text("Sandbox CRM's consent screen")
    page.get_by_role("button", name="Allow").click()
    expect(page.locator(".status")).to_have_text("Active")

    [body] = received
    assert list(body["configuration"].items())[3:] == [
        ("crm.region", "eu"),
        ("crm.include.archived", True),
        ("crm.page.size", "250"),
        ("event.notification.enabled", False),
        (
            "event.notification.callback.url",
            body["configuration"]["event.notification.callback.url"],
        ),
    ]
