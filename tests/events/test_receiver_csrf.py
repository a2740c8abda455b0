"""The receiver is the only view exempt from CSRF protection besides the sandbox's API (D6).

Cloud Elements posts without a CSRF token, so the receiver must not need one; every dashboard and
admin form POST without its token is forbidden, and goes through with it. The walk over the URL
patterns lists every exempt view, so a new one fails here until it is added on purpose.
"""

from __future__ import annotations

import pytest
from django.conf import settings as django_settings
from django.test import Client
from django.urls import URLResolver, get_resolver, reverse

from instances.cloud_elements import client as cloud_elements
from instances.cloud_elements.client import Instance
from instances.events import receiver as webhooks
from instances.events.models import EventNotification
from instances.links import views as link_views
from instances.models import AuditEntry, ElementInstance
from instances.sandbox import event_views as sandbox_event_views
from instances.sandbox import hub_views as sandbox_hub_views
from instances.sandbox import views as sandbox_views
from tests.events.receiver_helpers import ACTIVE, deliver, message_body

pytestmark = pytest.mark.django_db


# --- CSRF: the receiver is the only exempt view (D6) ---------------------------------------------


def csrf_exempt_callbacks(patterns) -> set:
    found = set()
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            found |= csrf_exempt_callbacks(pattern.url_patterns)
        elif getattr(pattern.callback, "csrf_exempt", False):
            found.add(pattern.callback)
    return found


def all_callbacks(patterns) -> set:
    found = set()
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            found |= all_callbacks(pattern.url_patterns)
        else:
            found.add(pattern.callback)
    return found


# The sandbox stands in for Cloud Elements' remote JSON API (authenticated by the Authorization
# header) and is mounted only in sandbox mode. Listed one by one: any new exempt view fails.
SANDBOX_PLATFORM_API = {
    sandbox_views.oauth_url,
    sandbox_views.elements,
    sandbox_views.element,
    sandbox_views.element_metadata,
    sandbox_views.instances,
    sandbox_views.element_instances,
    sandbox_views.instance,
    sandbox_views.configuration,
    sandbox_views.not_found,
    sandbox_views.element_instance,
    sandbox_views.configuration_entry,
    sandbox_views.token_configuration,
    sandbox_views.token_configuration_entry,
    sandbox_views.enabled,
    sandbox_views.token_enabled,
    sandbox_event_views.account_events,
    sandbox_event_views.event,
    sandbox_event_views.instance_events,
    # Dropbox's own POST to Cloud Elements' Webhook URI carries no CSRF token.
    sandbox_event_views.dropbox_webhook,
    sandbox_hub_views.hub,
}


def test_the_receiver_is_the_only_csrf_exempt_view_besides_the_sandbox_api(settings):
    patterns = get_resolver().url_patterns
    callbacks = all_callbacks(patterns)

    exempt = csrf_exempt_callbacks(patterns)

    # The walk really reached the dashboard, the admin and the receiver.
    assert len(callbacks) > 30
    assert any(getattr(c, "__module__", "") == "instances.views" for c in callbacks)
    assert any(getattr(c, "__module__", "").startswith("django.contrib.admin") for c in callbacks)
    # The consent link page is exempt from the global middleware only because its page sends
    # no Referer (so browsers send `Origin: null`); it checks the CSRF token itself
    # (tests/links/test_consent_link_owner_flow.py::test_continue_needs_the_csrf_token_...).
    expected = {webhooks.receive, link_views.connect}
    if settings.CLOUD_ELEMENTS_SANDBOX:
        expected |= SANDBOX_PLATFORM_API
        assert {c.__module__ for c in SANDBOX_PLATFORM_API} == {
            "instances.sandbox.views",
            "instances.sandbox.event_views",
            "instances.sandbox.hub_views",
        }
        # The sandbox's consent form and simulate action are ordinary protected forms.
        assert sandbox_views.authorize in callbacks
        assert sandbox_views.simulate in callbacks
    # The API's operations (Django Ninja exempts them): they take a bearer token only, never the
    # session cookie, so a cross-site form cannot act with a signed-in user's rights
    # (tests/api/test_errors_api.py: a signed-in session without a token gets 401).
    api_views = {c for c in exempt if getattr(c, "__module__", "").startswith("ninja.")}
    assert len(api_views) >= 10
    assert exempt - api_views == expected


def dashboard_posts(instance: ElementInstance) -> list[str]:
    return [
        reverse("instances:events", args=[instance.uuid]),
        reverse("instances:sync", args=[instance.uuid]),
        reverse("instances:retry", args=[instance.uuid]),
        reverse("instances:reauthorize", args=[instance.uuid]),
        reverse("instances:edit", args=[instance.uuid]),
        reverse("instances:delete", args=[instance.uuid]),
        reverse("instances:new"),
        reverse("instances:sync_all"),
        reverse("admin:instances_elementinstance_changelist"),
        reverse("admin:logout"),
    ]


def test_a_dashboard_post_without_a_csrf_token_is_forbidden(operator, instance):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(operator)

    answers = {
        url: browser.post(url, {"enabled": "on", "name": "changed"}).status_code
        for url in dashboard_posts(instance)
    }

    assert answers == dict.fromkeys(dashboard_posts(instance), 403)
    instance.refresh_from_db()
    instance.webhook.refresh_from_db()
    assert instance.webhook.enabled is False
    assert instance.name == "Finance Dropbox"
    assert instance.status == ACTIVE
    assert not AuditEntry.objects.exists()


def test_the_same_dashboard_post_with_its_token_goes_through(operator, instance, monkeypatch):
    def update_instance(instance_id: int, changes: dict) -> Instance:
        enabled = changes.get("configuration", {}).get("event.notification.enabled", False)
        return Instance(id=instance_id, name="x", element_key="dropbox", events_enabled=enabled)

    monkeypatch.setattr(cloud_elements, "update_instance", update_instance)
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(operator)
    browser.get(instance.get_absolute_url())
    token = browser.cookies[django_settings.CSRF_COOKIE_NAME].value

    response = browser.post(
        reverse("instances:events", args=[instance.uuid]),
        {"enabled": "on", "csrfmiddlewaretoken": token},
    )

    assert response.status_code == 302
    instance.webhook.refresh_from_db()
    assert instance.webhook.enabled is True


def test_the_receiver_needs_no_csrf_token(instance):
    sender = Client(enforce_csrf_checks=True)

    response = deliver(sender, instance, message_body("evt-no-csrf"))

    assert response.status_code == 200
    assert EventNotification.objects.count() == 1
