"""Cloud Elements' side of the events, next to ours: a lost delivery shows as "missing here"."""

from __future__ import annotations

import pytest
from django.conf import settings
from playwright.sync_api import expect

from instances.cloud_elements import client as cloud_elements
from instances.events.models import EventNotification
from instances.sandbox.delivery import deliver_change
from instances.sandbox.models import SandboxInstance
from tests.browser.conftest import log_in
from tests.conftest import PASSWORD
from tests.sandbox import test_sandbox_delivery
from tests.sandbox_helpers import make_active

pytestmark = pytest.mark.django_db(transaction=True)

# The sandbox posts notifications with urllib: keep them on 127.0.0.1 whatever the proxy.
loopback_only = test_sandbox_delivery.loopback_only


def test_the_event_log_at_cloud_elements_marks_a_lost_delivery_missing_here(
    page, operator, make_instance
):
    instance = make_active(make_instance, settings.SITE_URL, "Ledger", events=True)
    cloud_elements.update_instance(
        instance.remote_id,
        {"configuration": {"event.notification.callback.url": instance.webhook.callback_url}},
    )
    remote = SandboxInstance.objects.get(pk=instance.remote_id)
    deliver_change(remote, event_type="CREATED", path="/kept.txt")
    deliver_change(remote, event_type="UPDATED", path="/lost.txt")
    assert EventNotification.objects.filter(instance=instance).count() == 2
    # A delivery lost on our side: Cloud Elements notified it, we have no record of it.
    EventNotification.objects.get(instance=instance, object_id="/lost.txt").delete()
    log_in(page, "alice", PASSWORD)
    page.goto(instance.get_absolute_url())

    page.get_by_role("link", name="Compare with Cloud Elements' event log").click()

    rows = page.locator(".remote-events-table tbody tr")
    expect(rows).to_have_count(2)
    lost = rows.filter(has_text="/lost.txt")
    expect(lost).to_contain_text("NOTIFIED")
    expect(lost).to_contain_text("missing here")
    kept = rows.filter(has_text="/kept.txt")
    expect(kept).to_contain_text("NOTIFIED")
    expect(kept.get_by_role("link", name="Stored")).to_be_visible()

    # Read once and kept briefly: a reload does not ask Cloud Elements again.
    deliver_change(remote, event_type="DELETED", path="/later.txt")
    page.reload()
    expect(rows).to_have_count(2)
    expect(page.locator(".remote-events-table")).not_to_contain_text("/later.txt")


def test_the_instance_page_itself_makes_no_remote_call_for_the_log(
    page, operator, make_instance, monkeypatch
):
    instance = make_active(make_instance, settings.SITE_URL, "Quiet", events=True)

    def refuse(*args, **kwargs):
        raise AssertionError("the instance page must not read Cloud Elements' event log")

    monkeypatch.setattr(cloud_elements, "list_instance_events", refuse)
    log_in(page, "alice", PASSWORD)
    page.goto(instance.get_absolute_url())

    expect(page.get_by_role("link", name="Compare with Cloud Elements' event log")).to_be_visible()
