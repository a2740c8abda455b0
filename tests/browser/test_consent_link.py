"""Consent by link, end to end: the operator (signed in) and the account owner (anonymous) in
two browser contexts, against the sandbox over real HTTP."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.utils import timezone
from playwright.sync_api import expect

from instances.cloud_elements import client as ce
from instances.links.models import ConsentLink
from instances.models import AuditEntry, ElementInstance
from tests.browser.conftest import log_in
from tests.browser.test_create_instance import fill_form
from tests.conftest import PASSWORD
from tests.sandbox_helpers import make_active

pytestmark = pytest.mark.django_db(transaction=True)
PHONE = {"width": 390, "height": 844}


@pytest.fixture(autouse=True)
def fresh_rate_limit():
    # The live server runs in this process: its cache is this one.
    cache.clear()


@pytest.fixture
def owner_context(browser, sandbox_site):
    contexts = []

    def make(**options):
        context = browser.new_context(base_url=sandbox_site.url, **options)
        context.set_default_timeout(15_000)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


def send_link(page, name: str, note: str = "bob@customer.example") -> str:
    """As the operator: fill the form, send a consent link instead; return the link."""
    fill_form(page, name)
    page.get_by_label("For", exact=True).fill(note)
    page.get_by_role("button", name="Send a consent link instead").click()
    expect(page.get_by_text("Consent link made; the draft is saved.")).to_be_visible()
    expect(page.locator(".consent-link")).to_contain_text(note)
    return page.get_by_label("Consent link").inner_text()


def allow(owner, link: str, decision: str = "Allow") -> None:
    owner.goto(link)
    owner.get_by_role("button", name="Continue to Dropbox").click()
    owner.get_by_role("button", name=decision).click()


def test_the_owner_connects_from_a_link_and_the_operator_sees_it_active(
    page, owner_context, operator, sandbox_site
):
    log_in(page, "alice", PASSWORD)
    link = send_link(page, "Customer Dropbox")
    assert re.fullmatch(re.escape(sandbox_site.url) + r"/connect/[A-Za-z0-9_-]{43}/", link)
    page.get_by_role("button", name="Copy", exact=True).click()
    expect(page.locator("#copy-status")).to_have_text("Copied")
    page.get_by_role("link", name="Back to the instance").click()
    expect(page.locator(".waiting-consent")).to_have_text("Waiting for consent")
    instance_url = page.url
    page.goto("/instances/")
    expect(page.locator("#instances")).to_contain_text("Waiting for consent")

    owner = owner_context(viewport=PHONE)
    response = owner.goto(link)
    assert response.headers["referrer-policy"] == "no-referrer"
    expect(owner.locator("#content")).to_contain_text("Customer Dropbox")
    expect(owner.locator("#content")).to_contain_text("Your administrator")
    expect(owner.get_by_role("link", name="Instances")).to_have_count(0)
    assert owner.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    owner.get_by_role("button", name="Continue to Dropbox").click()
    owner.get_by_role("button", name="Allow").click()

    expect(owner.get_by_role("heading", name="Connected — you can close this page")).to_be_visible()
    assert "/instances/" not in owner.url and "code=" not in owner.url

    page.goto(instance_url)
    expect(page.locator(".status").first).to_have_text("Active")
    instance = ElementInstance.objects.get(name="Customer Dropbox")
    assert ce.get_instance(instance.remote_id).name == "Customer Dropbox"
    history = page.locator("table.audit")
    for words in ("Consent link made", "Consent link opened", "Consent given", "completed"):
        expect(history).to_contain_text(words)

    # Spent: a second use is refused before anything is sent.
    response = owner.goto(link)
    assert response.status == 410
    expect(owner.locator(".errornote")).to_contain_text("already used")


def test_the_owner_denies_then_changes_their_mind(page, owner_context, operator):
    log_in(page, "alice", PASSWORD)
    link = send_link(page, "Changing Mind")
    owner = owner_context()
    allow(owner, link, decision="Deny")
    expect(owner.get_by_role("heading", name="Not connected")).to_be_visible()

    page.reload()
    instance = ElementInstance.objects.get(name="Changing Mind")
    assert instance.remote_id is None
    assert instance.audit_entries.filter(action=AuditEntry.Action.CONSENT_REFUSED).exists()

    owner.get_by_role("link", name="Start again").click()
    owner.get_by_role("button", name="Continue to Dropbox").click()
    owner.get_by_role("button", name="Allow").click()
    expect(owner.get_by_role("heading", name="Connected — you can close this page")).to_be_visible()
    page.goto(instance.get_absolute_url())
    expect(page.locator(".status").first).to_have_text("Active")


def test_an_expired_link_answers_410(page, owner_context, operator):
    log_in(page, "alice", PASSWORD)
    link = send_link(page, "Too Late")
    ConsentLink.objects.update(expires_at=timezone.now() - timedelta(minutes=1))
    owner = owner_context()
    response = owner.goto(link)
    assert response.status == 410
    expect(owner.locator(".errornote")).to_contain_text("expired")
    expect(owner.get_by_role("button", name="Continue to Dropbox")).to_have_count(0)
    page.goto(ElementInstance.objects.get(name="Too Late").get_absolute_url())
    expect(page.locator("table.audit")).to_contain_text("Expired consent link opened")


def test_a_revoked_link_answers_410_and_a_new_one_works(page, owner_context, operator):
    log_in(page, "alice", PASSWORD)
    first = send_link(page, "Revoked Link")
    page.get_by_role("link", name="Back to the instance").click()
    page.get_by_role("button", name="Revoke", exact=True).click()
    expect(page.locator(".messagelist")).to_contain_text("revoked")

    owner = owner_context()
    assert owner.goto(first).status == 410
    expect(owner.locator(".errornote")).to_contain_text("withdrawn")

    page.get_by_role("button", name="Send a consent link").click()
    second = page.get_by_label("Consent link").inner_text()
    assert second != first
    page.get_by_role("link", name="Back to the instance").click()
    # The form itself, as without script (test_consent_link_copy.py clicks it with script).
    page.locator("form[data-copy-link]").evaluate("form => form.submit()")
    expect(page.get_by_label("Consent link")).to_have_text(second)
    allow(owner, second)
    expect(owner.get_by_role("heading", name="Connected — you can close this page")).to_be_visible()


def test_a_reauthorization_link_keeps_the_cloud_elements_id(
    page, owner_context, operator, make_instance, sandbox_site
):
    instance = make_active(make_instance, sandbox_site.url, "Renew Me")
    instance.oauth_callback_url = f"{sandbox_site.url}/instances/oauth/callback/"
    instance.save(update_fields=["oauth_callback_url"])
    log_in(page, "alice", PASSWORD)
    page.goto(instance.get_absolute_url())
    page.get_by_role("button", name="Send a re-authorization link").click()
    link = page.get_by_label("Consent link").inner_text()

    owner = owner_context()
    owner.goto(link)
    expect(owner.locator("#content")).to_contain_text("renew the connection")
    owner.get_by_role("button", name="Continue to Dropbox").click()
    owner.get_by_role("button", name="Allow").click()
    expect(owner.get_by_role("heading", name="Connected — you can close this page")).to_be_visible()

    page.goto(instance.get_absolute_url())
    expect(page.locator(".status").first).to_have_text("Active")
    expect(page.locator("table.audit")).to_contain_text("Re-authorized")
    assert ElementInstance.objects.get(pk=instance.pk).remote_id == instance.remote_id
    assert len(ce.list_instances(search_text="Renew Me")) == 1


def test_two_owners_at_once_make_one_instance(page, owner_context, operator):
    log_in(page, "alice", PASSWORD)
    link = send_link(page, "Shared Link")
    first, second = owner_context(), owner_context()
    for owner in (first, second):
        owner.goto(link)
        owner.get_by_role("button", name="Continue to Dropbox").click()
        expect(owner.get_by_role("button", name="Allow")).to_be_visible()

    first.get_by_role("button", name="Allow").click()
    second.get_by_role("button", name="Allow").click()

    expect(first.get_by_role("heading", name="Connected — you can close this page")).to_be_visible()
    expect(second.locator(".errornote")).to_contain_text("already used")
    assert len(ce.list_instances(search_text="Shared Link")) == 1


def test_the_owner_page_works_without_javascript_and_in_dark_mode(page, owner_context, operator):
    log_in(page, "alice", PASSWORD)
    link = send_link(page, "No Script Owner")
    owner = owner_context(java_script_enabled=False, color_scheme="dark", viewport=PHONE)
    owner.goto(link)
    background = owner.evaluate("getComputedStyle(document.body).backgroundColor")
    channels = [int(c) for c in re.findall(r"\d+", background)[:3]]
    assert max(channels) < 100, background
    assert owner.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    owner.get_by_role("button", name="Continue to Dropbox").click()
    owner.get_by_role("button", name="Allow").click()
    expect(owner.get_by_role("heading", name="Connected — you can close this page")).to_be_visible()
