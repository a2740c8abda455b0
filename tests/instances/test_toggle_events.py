"""Switching event notifications on and off, from the instance pages and the admin.

The switch is `PATCH /instances/{id}` with `{"configuration": {"event.notification.enabled": …}}`
(reference section 5). Integration tests run it against the sandbox over real HTTP: the remote
instance is created as production creates it (consent URL, Allow, `POST /instances`). Failure
and permission paths fake one client function at the seam.
"""

from __future__ import annotations

import html
import re
import secrets
from urllib.parse import parse_qs, urljoin, urlsplit

import pytest
import requests
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.urls import reverse

from instances.cloud_elements import client as cloud_elements
from instances.cloud_elements.client import (
    CloudElementsNotFoundError,
    CloudElementsServerError,
    Instance,
)
from instances.jobs import engine
from instances.jobs.models import Job
from instances.models import AuditEntry, ElementInstance, WebhookSettings

ACTIVE = ElementInstance.Status.ACTIVE
APP_KEY = "app-key-toggle-1729"
APP_SECRET = "app-secret-toggle-very-long-6174"
OAUTH_CALLBACK_URL = "http://127.0.0.1:8000/instances/oauth/callback/"
RECEIVER_URL = "https://hooks.example.com/cloud-elements/"
CHANGELIST = reverse("admin:instances_elementinstance_changelist")
HIDDEN_INPUT = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)"')
FORM_ACTION = re.compile(r'<form method="post" action="([^"]+)"')

live = pytest.mark.django_db(transaction=True)


# --- The cast at the sandbox ---------------------------------------------------------------------


def allow_consent(consent_url: str, csrf_cookie_name: str) -> str:
    """Press Allow on the sandbox's consent screen, as a browser would; return the code."""
    browser = requests.Session()
    page = browser.get(consent_url, timeout=10)
    assert page.status_code == 200
    form = {name: html.unescape(value) for name, value in HIDDEN_INPUT.findall(page.text)}
    form["decision"] = "allow"
    action = urljoin(consent_url, html.unescape(FORM_ACTION.search(page.text).group(1)))
    answer = browser.post(
        action,
        data=form,
        cookies={csrf_cookie_name: browser.cookies.get(csrf_cookie_name)},
        headers={"Referer": consent_url},
        allow_redirects=False,
        timeout=10,
    )
    assert answer.status_code == 302
    return parse_qs(urlsplit(answer.headers["Location"]).query)["code"][0]


def create_remote_instance(
    settings,
    *,
    name: str = "Marketing Dropbox",
    tags: tuple[str, ...] = ("marketing",),
    events_enabled: bool = False,
    callback_url: str = RECEIVER_URL,
    signature_key: str = "",
) -> Instance:
    """Create an instance at the sandbox: oauth/url, Allow, then `POST /instances`."""
    consent = cloud_elements.get_oauth_url(
        element_key="dropbox",
        api_key=APP_KEY,
        api_secret=APP_SECRET,
        callback_url=OAUTH_CALLBACK_URL,
        state=secrets.token_urlsafe(16),
    )
    code = allow_consent(consent.oauth_url, settings.CSRF_COOKIE_NAME)
    configuration: dict = {
        "oauth.api.key": APP_KEY,
        "oauth.api.secret": APP_SECRET,
        "oauth.callback.url": OAUTH_CALLBACK_URL,
        "event.notification.enabled": events_enabled,
    }
    if callback_url:
        configuration["event.notification.callback.url"] = callback_url
    if signature_key:
        configuration["event.notification.signature.key"] = signature_key
    return cloud_elements.create_instance(
        {
            "element": {"key": "dropbox"},
            "providerData": {"code": code},
            "configuration": configuration,
            "tags": list(tags),
            "name": name,
        }
    )


def local_copy(make_instance, remote: Instance, **webhook) -> ElementInstance:
    """The dashboard's active row for `remote`, with the given webhook settings."""
    instance = make_instance(remote.name, tags=remote.tags, status=ACTIVE, remote_id=remote.id)
    WebhookSettings.objects.filter(instance=instance).update(**webhook)
    return reload(instance)


def reload(instance: ElementInstance) -> ElementInstance:
    return ElementInstance.objects.select_related("webhook").get(pk=instance.pk)


def events_url(instance: ElementInstance) -> str:
    return reverse("instances:events", args=[instance.uuid])


def shown_messages(response) -> list[tuple[str, str]]:
    return [(message.level_tag, message.message) for message in response.context["messages"]]


def audit_actions(instance: ElementInstance) -> list[str]:
    return list(instance.audit_entries.values_list("action", flat=True))


@pytest.fixture
def sent(monkeypatch) -> list[tuple[int, dict]]:
    """Record every PATCH the dashboard would send, sending nothing."""
    calls: list[tuple[int, dict]] = []

    def update_instance(instance_id: int, changes: dict) -> Instance:
        calls.append((instance_id, changes))
        enabled = changes.get("configuration", {}).get("event.notification.enabled", False)
        return Instance(id=instance_id, name="x", element_key="dropbox", events_enabled=enabled)

    monkeypatch.setattr(cloud_elements, "update_instance", update_instance)
    return calls


# --- The instance page's switch, against the sandbox -------------------------------------------


@live
def test_turning_events_on_switches_them_on_at_cloud_elements_then_here(
    sandbox_site, settings, client, operator, make_instance
):
    remote = create_remote_instance(settings, events_enabled=False)
    instance = local_copy(make_instance, remote, enabled=False, callback_url=RECEIVER_URL)
    client.force_login(operator)

    response = client.post(events_url(instance), {"enabled": "on"}, follow=True)

    at_sandbox = cloud_elements.get_instance(remote.id)
    assert at_sandbox.events_enabled is True
    assert at_sandbox.configuration["event.notification.enabled"] is True
    assert at_sandbox.configuration["event.notification.callback.url"] == RECEIVER_URL
    assert reload(instance).webhook.enabled is True
    assert audit_actions(instance) == [AuditEntry.Action.EVENTS_ENABLED]
    assert instance.audit_entries.get().actor == operator
    assert ("success", "Marketing Dropbox: events turned on.") in shown_messages(response)


@live
def test_turning_events_off_switches_them_off_at_cloud_elements_then_here(
    sandbox_site, settings, client, operator, make_instance
):
    remote = create_remote_instance(settings, events_enabled=True)
    instance = local_copy(make_instance, remote, enabled=True, callback_url=RECEIVER_URL)
    client.force_login(operator)

    response = client.post(events_url(instance), {"enabled": "off"}, follow=True)

    at_sandbox = cloud_elements.get_instance(remote.id)
    assert at_sandbox.events_enabled is False
    assert at_sandbox.configuration["event.notification.enabled"] is False
    webhook = reload(instance).webhook
    assert webhook.enabled is False
    assert webhook.callback_url == RECEIVER_URL
    assert audit_actions(instance) == [AuditEntry.Action.EVENTS_DISABLED]
    assert ("success", "Marketing Dropbox: events turned off.") in shown_messages(response)


@live
def test_events_on_then_off_round_trips(sandbox_site, settings, client, operator, make_instance):
    remote = create_remote_instance(settings, events_enabled=False)
    instance = local_copy(make_instance, remote, enabled=False, callback_url=RECEIVER_URL)
    client.force_login(operator)

    client.post(events_url(instance), {"enabled": "on"})
    assert cloud_elements.get_instance(remote.id).events_enabled is True
    client.post(events_url(instance), {"enabled": "off"})

    assert cloud_elements.get_instance(remote.id).events_enabled is False
    assert reload(instance).webhook.enabled is False
    assert audit_actions(instance) == [
        AuditEntry.Action.EVENTS_DISABLED,
        AuditEntry.Action.EVENTS_ENABLED,
    ]


@live
def test_turning_events_on_without_a_callback_url_sends_our_own_receiver(
    sandbox_site, settings, client, operator, make_instance
):
    remote = create_remote_instance(settings, events_enabled=False, callback_url="")
    instance = local_copy(make_instance, remote, enabled=False, callback_url="")
    client.force_login(operator)

    client.post(events_url(instance), {"enabled": "on"})

    receiver = f"{settings.SITE_URL}/webhooks/{instance.uuid}/"
    at_sandbox = cloud_elements.get_instance(remote.id)
    assert at_sandbox.events_enabled is True
    assert at_sandbox.configuration["event.notification.callback.url"] == receiver
    webhook = reload(instance).webhook
    assert webhook.enabled is True
    assert webhook.callback_url == receiver


@live
def test_a_remote_error_leaves_events_unchanged_and_says_so(
    sandbox_site, settings, client, operator, make_instance
):
    remote = create_remote_instance(settings, events_enabled=False)
    instance = local_copy(make_instance, remote, enabled=False, callback_url=RECEIVER_URL)
    cloud_elements.delete_instance(remote.id)
    client.force_login(operator)

    response = client.post(events_url(instance), {"enabled": "on"}, follow=True)

    assert reload(instance).webhook.enabled is False
    [(level, text)] = shown_messages(response)
    assert level == "error"
    assert text.startswith("Marketing Dropbox: events are still off.")
    assert CloudElementsNotFoundError.default_message in text
    failure = instance.audit_entries.get()
    assert failure.action == AuditEntry.Action.REMOTE_ERROR
    assert failure.outcome == AuditEntry.Outcome.FAILURE
    assert failure.request_id  # the sandbox's requestId, for Cloud Elements support


# --- Where the switch leads back to --------------------------------------------------------------


def test_the_switch_returns_to_the_list_page_it_was_pressed_on(
    client, operator, make_instance, sent
):
    instance = make_instance(status=ACTIVE, remote_id=4101)
    client.force_login(operator)
    here = reverse("instances:index") + "?status=active&page=1"

    response = client.post(events_url(instance), {"enabled": "on", "next": here})

    assert response.status_code == 302
    assert response["Location"] == here
    assert len(sent) == 1


@pytest.mark.parametrize(
    "next_url", ["https://evil.example/instances/", "//evil.example/", "https:evil.example"]
)
def test_the_switch_ignores_a_next_page_on_another_site(
    client, operator, make_instance, sent, next_url
):
    instance = make_instance(status=ACTIVE, remote_id=4102)
    client.force_login(operator)

    response = client.post(events_url(instance), {"enabled": "on", "next": next_url})

    assert response.status_code == 302
    assert response["Location"] == instance.get_absolute_url()


# --- Who may press it, and when ------------------------------------------------------------------


def test_a_view_only_user_cannot_switch_events_and_nothing_is_sent(
    client, viewer, make_instance, sent
):
    instance = make_instance(status=ACTIVE, remote_id=4103)
    client.force_login(viewer)

    response = client.post(events_url(instance), {"enabled": "on"})

    assert response.status_code == 403
    assert sent == []
    assert reload(instance).webhook.enabled is False
    assert audit_actions(instance) == []


def test_a_non_staff_user_cannot_switch_events_either(client, outsider, make_instance, sent):
    instance = make_instance(status=ACTIVE, remote_id=4104)
    client.force_login(outsider)

    response = client.post(events_url(instance), {"enabled": "on"})

    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")
    assert sent == []


def test_the_switch_only_answers_a_post(client, operator, make_instance, sent):
    instance = make_instance(status=ACTIVE, remote_id=4105)
    client.force_login(operator)

    assert client.get(events_url(instance), {"enabled": "on"}).status_code == 405
    assert sent == []


def test_a_draft_instance_cannot_switch_events_and_nothing_is_sent(
    client, operator, make_instance, sent
):
    instance = make_instance("Draft Dropbox", status=ElementInstance.Status.DRAFT)
    client.force_login(operator)

    response = client.post(events_url(instance), {"enabled": "on"}, follow=True)

    assert sent == []
    assert reload(instance).webhook.enabled is False
    [(level, text)] = shown_messages(response)
    assert level == "error"
    assert text.startswith("Draft Dropbox: events are still off.")
    assert "draft, not active" in text


def test_a_deleted_instance_cannot_switch_events(client, operator, make_instance, sent):
    instance = make_instance(status=ElementInstance.Status.DELETED, remote_id=4106)
    client.force_login(operator)

    response = client.post(events_url(instance), {"enabled": "on"}, follow=True)

    assert sent == []
    assert shown_messages(response)[0][0] == "error"


def test_the_switch_sends_exactly_the_documented_patch(client, operator, make_instance, sent):
    instance = make_instance(status=ACTIVE, remote_id=4107)
    WebhookSettings.objects.filter(instance=instance).update(callback_url=RECEIVER_URL)
    client.force_login(operator)

    client.post(events_url(instance), {"enabled": "on"})
    client.post(events_url(instance), {"enabled": "off"})

    assert sent == [
        (4107, {"configuration": {"event.notification.enabled": True}}),
        (4107, {"configuration": {"event.notification.enabled": False}}),
    ]


# --- Admin bulk actions --------------------------------------------------------------------------


def run_action(client, action: str, instances: list[ElementInstance], **extra):
    data = {"action": action, ACTION_CHECKBOX_NAME: [i.pk for i in instances], "index": 0}
    return client.post(CHANGELIST, {**data, **extra}, follow=True)


@live
def test_the_admin_action_carries_on_past_a_failing_instance(
    sandbox_site, settings, client, operator, make_instance
):
    kept = create_remote_instance(settings, name="Finance Dropbox")
    gone = create_remote_instance(settings, name="Legal Dropbox")
    finance = local_copy(make_instance, kept, callback_url=RECEIVER_URL)
    legal = local_copy(make_instance, gone, callback_url=RECEIVER_URL)  # newer: listed first
    cloud_elements.delete_instance(gone.id)
    client.force_login(operator)

    response = run_action(client, "enable_events", [finance, legal])

    assert response.status_code == 200
    job = Job.objects.get()
    assert shown_messages(response) == [
        (
            "success",
            f'Started <a href="/instances/jobs/{job.pk}/">job {job.pk}</a>: Turn events on, '
            "2 instances.",
        )
    ]
    assert engine.run_job(job.pk) == "done"  # what the task worker runs
    outcome = {i.instance.name: (i.status, i.message) for i in job.items.select_related("instance")}
    assert outcome["Finance Dropbox"] == ("ok", "Events turned on.")
    assert outcome["Legal Dropbox"][0] == "failed"
    assert CloudElementsNotFoundError.default_message in outcome["Legal Dropbox"][1]
    assert reload(legal).webhook.enabled is False
    assert reload(finance).webhook.enabled is True
    assert cloud_elements.get_instance(kept.id).events_enabled is True
    assert audit_actions(legal) == [AuditEntry.Action.REMOTE_ERROR]
    assert audit_actions(finance) == [AuditEntry.Action.EVENTS_ENABLED]


def test_the_admin_action_reports_a_remote_error_per_instance(
    client, operator, make_instance, monkeypatch
):
    finance = make_instance("Finance Dropbox", status=ACTIVE, remote_id=5001)
    legal = make_instance("Legal Dropbox", status=ACTIVE, remote_id=5002)
    for instance in (finance, legal):
        WebhookSettings.objects.filter(instance=instance).update(
            enabled=True, callback_url=RECEIVER_URL
        )
    sent: list[int] = []

    def update_instance(instance_id: int, changes: dict) -> Instance:
        sent.append(instance_id)
        if instance_id == 5002:
            raise cloud_elements.CloudElementsBadRequestError(request_id="req-5002")
        return Instance(id=instance_id, name="x", element_key="dropbox", events_enabled=False)

    monkeypatch.setattr(cloud_elements, "update_instance", update_instance)
    client.force_login(operator)

    run_action(client, "disable_events", [finance, legal])
    job = Job.objects.get()
    engine.run_job(job.pk)

    assert sorted(sent) == [5001, 5002]
    outcome = {i.instance.name: i.status for i in job.items.select_related("instance")}
    assert outcome == {"Finance Dropbox": "ok", "Legal Dropbox": "failed"}
    job.refresh_from_db()
    assert (job.done, job.failed) == (2, 1)
    assert reload(finance).webhook.enabled is False
    assert reload(legal).webhook.enabled is True
    assert legal.audit_entries.get().request_id == "req-5002"


def test_a_view_only_user_is_not_offered_the_event_actions(client, viewer, operator, make_instance):
    make_instance(status=ACTIVE, remote_id=5003)

    client.force_login(operator)
    assert 'value="enable_events"' in client.get(CHANGELIST).text
    client.force_login(viewer)
    page = client.get(CHANGELIST).text

    assert 'value="enable_events"' not in page
    assert 'value="disable_events"' not in page
    assert 'value="sync_from_cloud_elements"' not in page


def test_a_view_only_user_cannot_run_the_event_action(client, viewer, make_instance, sent):
    instance = make_instance(status=ACTIVE, remote_id=5004)
    client.force_login(viewer)

    response = run_action(client, "enable_events", [instance])

    # The viewer has no action at all: the POST just shows the list again, nothing ran.
    assert response.status_code == 200
    assert response.redirect_chain == []
    # The changelist again (its override, which adds the running-jobs notice, extends it).
    names = [t.name for t in response.templates]
    assert names[0] == "admin/instances/elementinstance/change_list.html"
    assert "admin/change_list.html" in names
    assert sent == []
    assert reload(instance).webhook.enabled is False


def test_the_admin_offers_no_bulk_delete(client, operator, make_instance, sent):
    instance = make_instance(status=ACTIVE, remote_id=5005)
    client.force_login(operator)

    page = client.get(CHANGELIST).text
    run_action(client, "delete_selected", [instance], post="yes")

    assert 'value="delete_selected"' not in page
    assert ElementInstance.objects.get(pk=instance.pk).status == ACTIVE


def test_a_toggle_without_an_answer_takes_cloud_elements_word_for_the_result(
    client, operator, make_instance, monkeypatch
):
    instance = make_instance("Archive", status=ACTIVE, remote_id=5100)
    WebhookSettings.objects.filter(instance=instance).update(callback_url=RECEIVER_URL)

    def update_instance(instance_id: int, changes: dict) -> Instance:
        raise CloudElementsServerError(request_id="req-5100")  # applied, but the answer is lost

    def get_instance(instance_id: int) -> Instance:
        return Instance(id=instance_id, name="Archive", element_key="dropbox", events_enabled=True)

    monkeypatch.setattr(cloud_elements, "update_instance", update_instance)
    monkeypatch.setattr(cloud_elements, "get_instance", get_instance)
    client.force_login(operator)

    response = client.post(events_url(instance), {"enabled": "on"}, follow=True)

    assert reload(instance).webhook.enabled is True
    [(level, text)] = shown_messages(response)
    assert level == "error"
    assert text.startswith("Archive: events are now on (read back from Cloud Elements).")
