"""From an alert to a fixed instance: Cloud Elements marks an instance invalid, the health sweep
opens an incident, the webhook alert carries its link; the operator follows it to the instance,
re-authorizes it, and the next sweep resolves the incident (and says so)."""

from __future__ import annotations

import pytest
from django.conf import settings
from playwright.sync_api import expect

from instances import services
from instances.alerts import dispatch
from instances.alerts import services as alerts
from instances.alerts.models import Channel
from instances.health import sweep
from instances.health.models import Incident
from instances.sandbox.models import SandboxInstance
from tests.alerts.conftest import Listener
from tests.browser.conftest import log_in
from tests.conftest import PASSWORD
from tests.sandbox_helpers import make_active

pytestmark = pytest.mark.django_db(transaction=True)


def test_an_alert_link_leads_to_the_instance_and_its_fix(page, operator, make_instance):
    listener = Listener()
    try:
        Channel.objects.create(name="Team chat", kind="webhook", target=listener.url)
        instance = make_active(make_instance, settings.SITE_URL, "Finance Dropbox")
        instance.oauth_callback_url = f"{settings.SITE_URL}/instances/oauth/callback/"
        instance.save()
        SandboxInstance.objects.filter(pk=instance.remote_id).update(valid=False)
        services.sync(instance=instance, actor=None)  # what the hourly health check does
        sweep.sweep()
        for pk in dispatch.dispatch():
            alerts.send(pk)
        [alert] = listener.received
        link = alert["json"]["incident"]["url"]
        assert link.startswith(settings.SITE_URL + "/instances/incidents/")

        log_in(page, "alice", PASSWORD)
        page.goto(link)
        expect(page.locator("#incident-state")).to_contain_text("Open")
        page.locator("#incident-instances").get_by_role("link", name="Finance Dropbox").click()
        expect(page.locator("#problems")).to_contain_text("Invalid at Cloud Elements")
        expect(page.locator("#problems")).to_contain_text("Re-authorize it")
        page.get_by_role("button", name="Re-authorize").click()
        page.get_by_role("button", name="Allow").click()
        expect(page.locator(".messagelist")).to_contain_text("re-authorized")

        sweep.sweep()
        for pk in dispatch.dispatch():
            alerts.send(pk)
        page.reload()
        expect(page.locator("#problems")).to_have_count(0)
        page.goto(link)
        expect(page.locator("#incident-state")).to_contain_text("Resolved")
        assert Incident.objects.get().resolved_at is not None
        assert [call["json"]["type"] for call in listener.received] == [
            "incident.opened",
            "incident.resolved",
        ]
    finally:
        listener.close()
