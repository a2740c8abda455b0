"""Every dashboard page is usable on a phone (390×844), measured in the page, not by eye.

Usable means: the page itself never scrolls sideways; a table wider than the screen scrolls
inside its own box; no text column is narrower than its words (no "A/c/t/i/v/e"); and a tap
on a row's control reaches the control.
"""

from __future__ import annotations

import pytest
from django.conf import settings
from playwright.sync_api import expect

from instances.events.models import EventNotification
from tests.browser.conftest import log_in
from tests.conftest import PASSWORD
from tests.sandbox_helpers import APP_KEY, make_active

pytestmark = pytest.mark.django_db(transaction=True)
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}

# Returns a list of problems, empty when the page is usable at this width.
MEASURE = r"""() => {
  const problems = [];
  const vw = window.innerWidth;
  const page = document.documentElement.scrollWidth;
  if (page > vw) problems.push(`the page scrolls sideways: ${page}px wide for ${vw}px`);

  for (const table of document.querySelectorAll('#content table')) {
    const box = table.getBoundingClientRect();
    if (box.right <= vw + 1) continue;
    let scroller = table.parentElement;
    while (scroller && !['auto', 'scroll'].includes(getComputedStyle(scroller).overflowX)) {
      scroller = scroller.parentElement;
    }
    if (!scroller || scroller.getBoundingClientRect().right > vw + 1) {
      problems.push(`table.${table.className} (${Math.round(box.width)}px) has no scroll box`);
    }
  }

  const canvas = document.createElement('canvas').getContext('2d');
  const cells = '#content dd, #content td, #content th, #content .status, #content .tag, '
    + '#content label, #content .help, #content p';
  for (const cell of document.querySelectorAll(cells)) {
    if (!cell.offsetParent || !cell.textContent.trim()) continue;
    if (cell.closest('.visually-hidden')) continue;  // for screen readers, 1px on purpose
    const style = getComputedStyle(cell);
    if (style.display === 'inline') continue;  // no box of its own: its block is measured
    // Each word in the font it is drawn with (labels hold <code>, for instance).
    let longest = 0;
    let widest = '';
    const walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
    while (walker.nextNode()) {
      const node = walker.currentNode;
      if (!node.parentElement.offsetParent && node.parentElement !== cell) continue;
      canvas.font = getComputedStyle(node.parentElement).font;
      for (const word of node.textContent.split(/\s+/).filter(Boolean)) {
        const width = canvas.measureText(word).width;
        if (width > longest) { longest = width; widest = word; }
      }
    }
    const inner = cell.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
    // A word longer than most of the screen (a URL) may wrap; any other must fit its column.
    const needed = Math.min(longest, vw * 0.6);
    if (inner + 1 < needed) {
      problems.push(`${cell.tagName.toLowerCase()}.${cell.className} is ${Math.round(inner)}px `
        + `for "${widest}" in "${cell.textContent.trim().slice(0, 40)}"`);
    }
  }
  return problems;
}"""


@pytest.fixture
def phone(browser, sandbox_site):
    context = browser.new_context(
        base_url=sandbox_site.url, viewport=PHONE, has_touch=True, is_mobile=True
    )
    context.set_default_timeout(15_000)
    yield context.new_page()
    context.close()


@pytest.fixture
def busy(make_instance, operator):
    """An active instance with long values, tags, events and history, as pages show them."""
    instance = make_active(
        make_instance,
        settings.SITE_URL,
        "Marketing Dropbox for the European subsidiaries",
        tags=["finance", "europe-west", "quarterly-reports"],
    )
    for n in range(3):
        EventNotification.objects.create(
            instance=instance,
            body={"message": {"events": []}},
            event_type="CREATED",
            object_type="file",
            object_id=f"/Reports/2024/q{n}-summary-final-version.pdf",
            dedup_key=f"event-{n}",
        )
    return instance


def usable(page) -> None:
    problems = page.evaluate(MEASURE)
    assert problems == [], f"{page.url}: {problems}"


def test_the_instance_list_on_a_phone(phone, busy, make_instance):
    make_instance("Draft with a name", tags=["hr"])
    log_in(phone, "alice", PASSWORD)
    usable(phone)
    # The table is wider than the phone: it scrolls inside .results, not the page.
    width = phone.evaluate("document.querySelector('#instances').getBoundingClientRect().width")
    assert width > PHONE["width"]


def test_the_instance_page_on_a_phone(phone, busy):
    log_in(phone, "alice", PASSWORD)
    phone.goto(busy.get_absolute_url())
    usable(phone)
    status = phone.locator(".facts .status").first
    expect(status).to_have_text("Active")
    # One line: a pill about as tall as its text, not a letter per line.
    height = status.evaluate("e => e.getBoundingClientRect().height")
    font = status.evaluate("e => parseFloat(getComputedStyle(e).fontSize)")
    assert height < 2.5 * font


def test_the_new_instance_form_on_a_phone(phone, operator):
    log_in(phone, "alice", PASSWORD)
    phone.goto("/instances/new/")
    usable(phone)
    phone.get_by_label("oauth.api.key", exact=True).fill(APP_KEY)
    phone.get_by_role("button", name="Create instance").click()  # no name: errors shown
    expect(phone.locator(".errornote").first).to_be_visible()
    usable(phone)


def test_the_edit_page_on_a_phone(phone, busy):
    log_in(phone, "alice", PASSWORD)
    phone.goto(busy.get_absolute_url())
    phone.get_by_role("link", name="Edit").click()
    phone.wait_for_url("**/edit/")
    usable(phone)


def test_the_delete_page_on_a_phone(phone, busy):
    log_in(phone, "alice", PASSWORD)
    phone.goto(busy.get_absolute_url())
    phone.get_by_role("link", name="Delete").click()
    phone.wait_for_url("**/delete/")
    usable(phone)


def test_the_sign_in_error_page_on_a_phone(phone, operator):
    log_in(phone, "alice", PASSWORD)
    phone.goto("/instances/oauth/callback/?state=nobody-started-this&code=x")
    expect(phone.locator(".errornote")).to_contain_text("unknown state")
    usable(phone)


def test_a_row_control_takes_a_tap_on_a_phone(phone, make_instance, operator):
    for n in range(8):
        make_active(make_instance, settings.SITE_URL, f"Sales {n}")
    log_in(phone, "alice", PASSWORD)
    switch = phone.get_by_role("switch", name="Events for Sales 0")  # the last row
    switch.scroll_into_view_if_needed()
    # Nothing lies over the switch (the table header least of all).
    on_top = switch.evaluate(
        """e => { const r = e.getBoundingClientRect();
                  const hit = document.elementFromPoint(r.x + r.width / 2, r.y + r.height / 2);
                  return e.contains(hit); }"""
    )
    assert on_top
    switch.tap()
    expect(phone.locator(".messagelist")).to_contain_text("Sales 0: events turned on")
    switch = phone.get_by_role("switch", name="Events for Sales 0")
    switch.click()
    expect(phone.locator(".messagelist")).to_contain_text("Sales 0: events turned off")


def test_the_instance_list_is_a_table_on_a_desktop(browser, sandbox_site, busy):
    context = browser.new_context(base_url=sandbox_site.url, viewport=DESKTOP)
    page = context.new_page()
    log_in(page, "alice", PASSWORD)
    usable(page)
    layout = page.evaluate(
        """() => { const t = document.querySelector('#instances');
                   const box = t.parentElement;
                   const heads = [...t.querySelectorAll('thead th')].map(h => h.offsetTop);
                   return {display: getComputedStyle(t).display,
                           row: getComputedStyle(t.querySelector('tbody tr')).display,
                           oneHeaderRow: new Set(heads).size === 1,
                           fits: box.scrollWidth <= box.clientWidth}; }"""
    )
    assert layout == {"display": "table", "row": "table-row", "oneHeaderRow": True, "fits": True}
    context.close()


def test_the_consent_screen_on_a_phone(phone, operator):
    log_in(phone, "alice", PASSWORD)
    phone.goto("/instances/new/")
    phone.get_by_label("Name", exact=True).fill("Pocket")
    phone.get_by_label("oauth.api.key", exact=True).fill(APP_KEY)
    phone.get_by_label("oauth.api.secret", exact=True).fill("sandbox-app-secret-0001")
    phone.get_by_role("button", name="Create instance").click()
    expect(phone.get_by_role("button", name="Allow")).to_be_visible()
    usable(phone)
    phone.get_by_role("button", name="Allow").tap()
    expect(phone.locator(".status").first).to_have_text("Active")
    usable(phone)


def test_the_job_page_on_a_phone(phone, busy, operator):
    from instances.jobs import services as jobs
    from instances.jobs.models import Job

    job = jobs.start_job(kind=Job.Kind.EVENTS_ON, instances=[busy.pk], actor=operator)
    log_in(phone, "alice", PASSWORD)
    phone.goto(job.get_absolute_url())
    expect(phone.locator("#job-count")).to_have_text("0 of 1 processed")
    usable(phone)


def _state(name: str, busy, make_instance, operator):
    """The instance page in each state a person meets it in."""
    from instances.links.services import make_link

    long_name = "Legal department archive for the Northern European offices"
    if name == "active":
        return busy
    if name == "disabled":
        busy.remote_disabled = True
        busy.save(update_fields=["remote_disabled"])
        return busy
    instance = make_instance(long_name, tags=["legal", "northern-europe"])
    if name == "waiting":
        make_link(instance=instance, actor=operator, note="maria.lindqvist@example.com")
    elif name == "failed":
        instance.status = "failed"
        instance.last_error = (
            "Cloud Elements rejected the request. Provider says: invalid_client "
            "(the apiSecret does not match this apiKey's app)."
        )
        instance.save()
    elif name == "imported":
        instance.status = "active"
        instance.origin = "imported"
        instance.remote_id = 90210
        instance.remote_snapshot = {"name": long_name + " (renamed)", "tags": ["legal"]}
        instance.drifted = True
        instance.oauth_api_key = instance.oauth_api_secret = ""
        instance.save()
        instance.webhook.callback_url = "https://hooks.their-app.example/cloud-elements/events"
        instance.webhook.signature_key_unknown = True
        instance.webhook.save()
    return instance


@pytest.mark.parametrize("state", ["draft", "waiting", "active", "disabled", "failed", "imported"])
def test_the_instance_page_in_every_state_on_a_phone(phone, busy, make_instance, operator, state):
    instance = _state(state, busy, make_instance, operator)
    log_in(phone, "alice", PASSWORD)
    phone.goto(instance.get_absolute_url())
    expect(phone.locator("h1")).to_be_visible()
    usable(phone)
    # The status is on the first screen: facts come first.
    top = phone.locator(".facts .status").first.evaluate("e => e.getBoundingClientRect().top")
    assert top < PHONE["height"]


def test_the_campaign_pages_on_a_phone(phone, busy, operator, make_instance):
    """The campaign form, a campaign's funnel and rows, the owners' import, the API tokens."""
    from instances.campaigns import services as campaigns
    from instances.jobs import engine

    busy.owner_name, busy.owner_email = "Maximiliane Oberhuber-Lindqvist", "maximiliane@ex.example"
    busy.save()
    make_instance("No owner at all", status="active", remote_id=99_001)
    log_in(phone, "alice", PASSWORD)
    phone.goto("/instances/campaigns/new/?scope=filter&query=")
    expect(phone.locator("#campaign-selection")).to_contain_text("2 instances")
    usable(phone)

    campaign = campaigns.start(
        name="Dropbox app secret rotated in the European subsidiaries",
        purpose="reauthorize",
        message="We rotated the secret of our Dropbox app; please reconnect.",
        delivery="export",
        expires_at=campaigns.default_expiry(),
        reminder_days=[3, 6],
        query="",
        actor=operator,
    )
    engine.run_job(campaign.job_id)
    phone.goto(campaign.get_absolute_url())
    expect(phone.locator("#recipients .recipient-state")).to_have_count(2)
    usable(phone)
    phone.goto("/instances/campaigns/")
    usable(phone)
    phone.goto("/instances/owners/import/")
    usable(phone)
    phone.goto("/account/api-tokens/")
    phone.get_by_label("Name").fill("Onboarding service of the customer portal")
    phone.get_by_role("button", name="Make a token").click()
    expect(phone.locator("#new-token")).to_contain_text("ced_")
    usable(phone)


def test_the_forwarding_pages_on_a_phone(phone, busy, operator):
    """The destinations list and form, a destination with its deliveries, and an event's
    attempts with Resend."""
    from django.utils import timezone

    from instances.forwarding.models import Attempt, Delivery, Destination

    destination = Destination.objects.create(
        name="The customer portal's event intake in the European region",
        url="https://hooks.customer-portal.example/cloud-elements/events?token=abcdef",
        tags=["finance", "quarterly-reports"],
        event_types=["CREATED", "UPDATED"],
        failing_since=timezone.now(),
        last_failure_at=timezone.now(),
        last_failure="No answer within 15 s.",
    )
    event = busy.events.first()
    delivery = Delivery.objects.create(
        event=event,
        destination=destination,
        created_at=timezone.now(),
        next_attempt_at=timezone.now(),
        attempts=1,
        last_status=503,
        last_error="Answered 503.",
    )
    Attempt.objects.create(
        delivery=delivery,
        number=1,
        started_at=timezone.now(),
        duration_ms=1234,
        status=503,
        outcome=Attempt.Outcome.RETRY,
        error="Answered 503.",
        response='{"error":"the intake service is being deployed, come back in a minute"}',
    )
    log_in(phone, "alice", PASSWORD)
    phone.goto("/forwarding/")
    expect(phone.locator("#destinations .destination-state")).to_contain_text("Failing")
    usable(phone)
    phone.goto("/forwarding/new/")
    usable(phone)
    phone.goto(destination.get_absolute_url())
    expect(phone.locator("#deliveries")).to_contain_text("Answered 503.")
    usable(phone)
    phone.goto(event.get_absolute_url())
    expect(phone.locator("#forwarding .attempt-status")).to_have_text("503")
    usable(phone)
