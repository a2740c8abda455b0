"""A re-consent campaign, end to end: the operator checks instances on the list and starts a
campaign; a real task worker makes the links and e-mails the owners over a real SMTP server;
an owner opens the link from their e-mail in a browser of their own and allows; the operator
sees the funnel move and the instance completed."""

from __future__ import annotations

import re
import subprocess

import pytest
from django.core.cache import cache
from playwright.sync_api import expect

from instances.campaigns.models import Campaign, Recipient
from instances.links.models import ConsentLink
from instances.links.services import digest
from instances.models import ElementInstance
from tests.browser.conftest import log_in
from tests.conftest import PASSWORD
from tests.job_helpers import start_worker, worker_env
from tests.sandbox_helpers import make_active

pytestmark = pytest.mark.django_db(transaction=True)
ORGANIZATION = "Acme Integrations"
MESSAGE = "We rotated our Dropbox app's secret."
NO_OWNER = "No owner e-mail address; no link made."


@pytest.fixture(autouse=True)
def fresh_rate_limit():
    # The owner's pages are rate-limited in this process's cache (the live server's).
    cache.clear()


def plain_text(mail: dict) -> str:
    [part] = [p for p in mail["message"].walk() if p.get_content_type() == "text/plain"]
    return part.get_payload(decode=True).decode()


def count(page, step: str):
    return page.locator(f'#funnel .count[data-step="{step}"]')


def row(page, name: str):
    return page.locator("#recipients tbody tr").filter(
        has=page.get_by_role("rowheader", name=name, exact=True)
    )


def test_a_campaign_from_the_list_mails_the_owner_whose_consent_completes_it(
    page, owner_page, operator, make_instance, sandbox_site, smtp, settings
):
    settings.CONSENT_ORGANIZATION_NAME = ORGANIZATION
    callback = f"{sandbox_site.url}/instances/oauth/callback/"
    owners = {
        "Olive Dropbox": ("Olive Owner", "olive@customer.example"),
        "Bruno Dropbox": ("Bruno Owner", "bruno@other.example"),
        "Nobody Dropbox": None,
    }
    instances = {}
    for name, owner in owners.items():
        instance = make_active(make_instance, sandbox_site.url, name)
        instance.oauth_callback_url = callback
        if owner:
            instance.owner_name, instance.owner_email = owner
        instance.save()
        instances[name] = instance
    olive = instances["Olive Dropbox"]

    env = worker_env(
        settings.SITE_URL,
        EMAIL_URL=f"smtp://127.0.0.1:{settings.EMAIL_PORT}",
        CONSENT_ORGANIZATION_NAME=ORGANIZATION,
    )
    worker = start_worker(env)
    try:
        log_in(page, "alice", PASSWORD)
        for name in owners:
            page.get_by_label(f"Select {name}").check()
        page.locator("#start-campaign").click()

        expect(page.locator("#campaign-selection")).to_contain_text("3 checked instances")
        page.get_by_label("Name").fill("Dropbox app secret rotated")
        page.get_by_label("Re-authorize active instances").check()
        page.get_by_label("Message").fill(MESSAGE)
        page.get_by_label("Links expire after (days)").fill("5")
        page.get_by_label("Remind after (days)").fill("2, 4")
        page.get_by_label("E-mail each instance's owner").check()
        page.get_by_role("button", name="Start the campaign").click()

        expect(page.locator(".messagelist")).to_contain_text(
            "Campaign started: making links for 3 checked instances."
        )
        # The page reloads itself while the links are being made; the worker ends that.
        expect(page.locator("#campaign-status")).to_have_text("Running", timeout=30_000)
        campaign_url = page.url
    finally:
        worker.terminate()
        try:
            output, _ = worker.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            worker.kill()
            output, _ = worker.communicate()
        print(output)  # shown when the test fails

    campaign = Campaign.objects.get()
    assert (campaign.name, campaign.purpose, campaign.delivery) == (
        "Dropbox app secret rotated",
        Campaign.Purpose.REAUTHORIZE,
        Campaign.Delivery.EMAIL,
    )
    assert campaign.reminder_days == [2, 4]
    assert 4 * 86400 < (campaign.expires_at - campaign.created_at).total_seconds() <= 5 * 86400
    expect(page.locator("#campaign-reminders")).to_contain_text("after 2, 4 days")
    for step, expected in {
        "links_made": "2",
        "emails_sent": "2",
        "emails_failed": "0",
        "opened": "0",
        "consent_given": "0",
        "completed": "0",
    }.items():
        expect(count(page, step)).to_have_text(expected)
    expect(page.locator("#left-out")).to_contain_text("3 instances chosen: 0 skipped")
    expect(page.locator("#left-out")).to_contain_text("1 not sent")
    for name in ("Olive Dropbox", "Bruno Dropbox"):
        expect(row(page, name).locator(".recipient-state")).to_have_text("E-mail sent")
    nobody = row(page, "Nobody Dropbox")
    expect(nobody.locator(".recipient-state")).to_have_text("Not sent")
    expect(nobody.locator("td").nth(0)).to_have_text("—")
    expect(nobody.locator("td").nth(2)).to_have_text(NO_OWNER)

    # One e-mail per owner, from the worker, each with only that owner's link; none to nobody.
    assert sorted(address for mail in smtp for address in mail["to"]) == [
        "bruno@other.example",
        "olive@customer.example",
    ]
    [mail] = [m for m in smtp if m["to"] == ["olive@customer.example"]]
    assert mail["message"]["Subject"] == f"{ORGANIZATION}: please reconnect your Dropbox account"
    text = plain_text(mail)
    assert "Hello Olive Owner," in text and MESSAGE in text
    assert "Olive Dropbox" in text and "Bruno Dropbox" not in text
    links = re.findall(re.escape(sandbox_site.url) + r"/connect/[A-Za-z0-9_-]{43}/", text)
    assert len(links) == 1
    [link] = links
    token = re.search(r"/connect/([A-Za-z0-9_-]{43})/", link).group(1)
    made = ConsentLink.objects.get(token_hash=digest(token))
    assert made.instance_id == olive.pk and made.purpose == "reauthorize"

    # The owner, not signed in, in a browser of their own.
    owner = owner_page
    owner.goto(link)
    expect(owner.locator("#content")).to_contain_text("Olive Dropbox")
    owner.get_by_role("button", name="Continue to Dropbox").click()
    owner.get_by_role("button", name="Allow").click()
    expect(owner.get_by_role("heading", name="Connected — you can close this page")).to_be_visible()

    page.goto(campaign_url)
    for step, expected in {
        "links_made": "2",
        "emails_sent": "2",
        "opened": "1",
        "consent_given": "1",
        "refused": "0",
        "completed": "1",
    }.items():
        expect(count(page, step)).to_have_text(expected)
    olive_row = row(page, "Olive Dropbox")
    expect(olive_row.locator(".recipient-state")).to_have_text("Completed")
    expect(olive_row.locator("td").nth(3).locator("time")).to_have_count(1)  # opened at
    expect(olive_row.locator("td").nth(4).locator("time")).to_have_count(1)  # completed at
    expect(row(page, "Bruno Dropbox").locator(".recipient-state")).to_have_text("E-mail sent")
    expect(row(page, "Nobody Dropbox").locator(".recipient-state")).to_have_text("Not sent")
    expect(page.locator("#campaign-status")).to_have_text("Running")

    # Re-authorized in place: still active, same Cloud Elements id; the link is spent.
    olive_now = ElementInstance.objects.get(pk=olive.pk)
    assert olive_now.status == ElementInstance.Status.ACTIVE
    assert olive_now.remote_id == olive.remote_id
    assert Recipient.objects.get(instance=olive).state == Recipient.State.COMPLETED
    made.refresh_from_db()
    assert made.used_at is not None
