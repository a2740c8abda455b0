"""What the operator is told after each action says what actually happened (issue 9)."""

from __future__ import annotations

import re

import pytest
from django.conf import settings
from playwright.sync_api import expect

from instances.events import ingest
from instances.events.models import EventNotification
from instances.models import ElementInstance
from tests.browser.conftest import log_in
from tests.conftest import PASSWORD
from tests.sandbox_helpers import APP_KEY, APP_SECRET, make_active

pytestmark = pytest.mark.django_db(transaction=True)
ACTIVE = re.compile(r"/instances/[0-9a-f-]{36}/$")


def test_simulating_with_events_off_is_a_warning_not_a_success(page, operator, make_instance):
    instance = make_active(make_instance, settings.SITE_URL, "Quiet")
    log_in(page, "alice", PASSWORD)
    page.goto(instance.get_absolute_url())
    page.get_by_role("button", name="Simulate").click()
    message = page.locator(".messagelist li")
    expect(message).to_contain_text("nothing was delivered")
    expect(message).to_have_class(re.compile(r"\bwarning\b"))


def test_creating_an_api_key_instance_says_it_was_created(page, operator):
    log_in(page, "alice", PASSWORD)
    page.goto("/instances/new/")
    page.get_by_label("Name", exact=True).fill("Keyed")
    page.get_by_label("apiKey").check()
    page.get_by_label("API key", exact=True).fill("the-api-key-0123456789")
    page.get_by_role("button", name="Create instance").click()
    page.wait_for_url(ACTIVE)
    instance = ElementInstance.objects.get(name="Keyed")
    message = page.locator(".messagelist li")
    expect(message).to_have_text(
        f"“Keyed” was created at Cloud Elements (Cloud Elements id {instance.remote_id})."
    )
    expect(message).to_have_class(re.compile(r"\bsuccess\b"))


def test_reauthorizing_says_re_authorized(page, operator, make_instance):
    instance = make_active(make_instance, settings.SITE_URL, "Again")
    instance.oauth_callback_url = f"{settings.SITE_URL}/instances/oauth/callback/"
    instance.save(update_fields=["oauth_callback_url"])
    log_in(page, "alice", PASSWORD)
    page.goto(instance.get_absolute_url())
    page.get_by_role("button", name="Re-authorize").click()
    page.get_by_role("button", name="Allow").click()
    page.wait_for_url(ACTIVE)
    expect(page.locator(".messagelist")).to_have_text(
        f"“Again” was re-authorized (Cloud Elements id {instance.remote_id})."
    )


def test_coming_back_to_an_used_consent_says_already_connected(page, operator):
    log_in(page, "alice", PASSWORD)
    page.goto("/instances/new/")
    page.get_by_label("Name", exact=True).fill("Twice")
    page.get_by_label("oauth.api.key", exact=True).fill(APP_KEY)
    page.get_by_label("oauth.api.secret", exact=True).fill(APP_SECRET)
    page.get_by_role("button", name="Create instance").click()
    page.get_by_role("button", name="Allow").click()
    page.wait_for_url(ACTIVE)
    expect(page.locator(".status")).to_have_text("Active")
    instance = ElementInstance.objects.get(name="Twice")

    # The back button leads to the consent screen again; Allow sends the same state back.
    page.go_back()
    page.get_by_role("button", name="Allow").click()

    body = page.locator("#content-main")
    expect(body).to_contain_text(
        f"“Twice” is already connected (Cloud Elements id {instance.remote_id})"
    )
    expect(body).not_to_contain_text("Retry")
    page.get_by_role("link", name="Open “Twice”").click()
    page.wait_for_url(ACTIVE)
    assert ElementInstance.objects.filter(name="Twice").count() == 1


def test_an_event_received_seconds_ago_was_received_just_now(page, operator, make_instance):
    instance = make_instance("Fresh", status=ElementInstance.Status.ACTIVE, remote_id=4242)
    # Stored as the receiver stores it: the list's "Last event" comes from the day's count.
    ingest.store_delivery(
        instance_id=instance.pk,
        fields={
            "dedup_key": "event:fresh",
            "remote_event_id": "fresh",
            "webhook_id": "",
            "signature": EventNotification.Signature.UNSIGNED,
            "event_type": "",
            "object_type": "",
            "object_id": "",
            "events": [],
            "body": '{"message": {"events": []}}',
        },
    )
    log_in(page, "alice", PASSWORD)
    cell = page.locator("#instances tbody tr", has_text="Fresh").locator("time").first
    expect(cell).to_have_text("just now")


def test_the_form_marks_its_required_fields(page, operator):
    log_in(page, "alice", PASSWORD)
    page.goto("/instances/new/")
    name_row = page.locator(".field-name")
    expect(name_row.locator(".required-mark")).to_have_text("Required")
    expect(name_row.locator("label")).to_have_class(re.compile(r"\brequired\b"))
    expect(page.get_by_label("Name", exact=True)).to_have_attribute("required", "")
    expect(page.locator(".field-oauth_api_secret .required-mark")).to_have_text(
        "Required for oauth2"
    )
    expect(page.locator(".field-tags .required-mark")).to_have_count(0)
    expect(page.locator(".field-tags .optional")).to_have_text("Optional")


def test_a_validation_error_says_the_generated_key_was_not_kept(page, operator):
    log_in(page, "alice", PASSWORD)
    page.goto("/instances/new/")
    page.get_by_label("oauth.api.key", exact=True).fill(APP_KEY)
    page.get_by_label("Events Enabled").check()
    page.get_by_role("button", name="Generate a strong key").click()
    generated = page.get_by_label("Callback Notification Signature Key").input_value()
    page.get_by_role("button", name="Create instance").click()  # no name: invalid

    expect(page.locator(".errornote").first).to_be_visible()
    note = page.locator(".field-signature_key .not-kept")
    expect(note).to_contain_text("Not kept")
    expect(note).to_contain_text("Generate a new key")
    assert generated not in page.content()
    expect(page.locator(".field-oauth_api_secret .not-kept")).to_have_count(0)


def test_the_favicon_is_served(page, operator):
    log_in(page, "alice", PASSWORD)
    answer = page.request.get("/favicon.ico")
    assert answer.ok and answer.headers["content-type"].startswith("image/")
    icon = page.locator("link[rel=icon]").get_attribute("href")
    answer = page.request.get(icon)
    assert answer.ok and answer.headers["content-type"].startswith("image/svg")
