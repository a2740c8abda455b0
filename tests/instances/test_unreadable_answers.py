"""A change answered 2xx with a body that cannot be read may have happened: never say it did not.

Issue 10, point 1: an HTML page from a proxy, a truncated body or JSON without the instance, in
answer to POST, PATCH, PUT or DELETE, is *ambiguous*. A create then goes to unknown and is
reconciled (never Failed, whose Retry would create a second remote instance); a toggle or an edit
reads the instance back and says what it now holds. The client talks real HTTP to the scripted
fault server of fault_server.py; the end-to-end test uses the sandbox over HTTP and garbles
one answer at the transport seam after the sandbox carried the create out.
"""

from __future__ import annotations

import html
import json

import pytest
import requests
from django.test import Client
from django.urls import reverse
from requests.adapters import HTTPAdapter

from instances.cloud_elements import client as cloud_elements
from instances.cloud_elements.client import (
    CloudElementsBadResponseError,
    CloudElementsUnconfirmedError,
)
from instances.jobs import engine
from instances.jobs.models import Job
from instances.models import AuditEntry, ElementInstance, WebhookSettings
from instances.sandbox.models import SandboxInstance
from tests.cloud_elements.fault_server import INSTANCE, create, remote, reply  # noqa: F401 (fixture)
from tests.instances.consent_helpers import CALLBACK, NEW, allow_consent, form_data
from tests.instances.lifecycle_helpers import shown_messages

Status = ElementInstance.Status
PROXY_PAGE = b"<html><body><h1>200 OK</h1><p>Served by the proxy.</p></body></html>"
UNREADABLE = {
    "html": reply(200, PROXY_PAGE, "text/html"),
    "truncated": reply(200, json.dumps(INSTANCE).encode()[:40]),
    "json-without-id": reply(200, {"name": "API Instance"}),
    "json-array": reply(200, [INSTANCE]),
}
CHANGES = {
    "POST": create,
    "PATCH": lambda: cloud_elements.update_instance(58992, {"name": "Renamed"}),
    "PUT": lambda: cloud_elements.replace_instance(58992, {"name": "Replaced", "tags": []}),
}


# --- The client ----------------------------------------------------------------------------------


@pytest.mark.parametrize("answer", UNREADABLE.values(), ids=UNREADABLE.keys())
@pytest.mark.parametrize("method", CHANGES)
def test_an_unreadable_2xx_to_a_change_is_ambiguous(remote, method, answer):  # noqa: F811
    remote.will(answer)

    with pytest.raises(CloudElementsUnconfirmedError) as caught:
        CHANGES[method]()

    assert caught.value.ambiguous is True
    assert caught.value.status == 200
    assert "may have been made" in caught.value.message
    assert remote.methods() == [method]


def test_an_html_2xx_to_a_delete_is_ambiguous(remote):  # noqa: F811
    remote.will(UNREADABLE["html"])

    with pytest.raises(CloudElementsUnconfirmedError) as caught:
        cloud_elements.delete_instance(58992)

    assert caught.value.ambiguous is True


@pytest.mark.parametrize("answer", UNREADABLE.values(), ids=UNREADABLE.keys())
def test_an_unreadable_2xx_to_a_read_stays_a_definite_bad_response(remote, answer):  # noqa: F811
    # A GET changes nothing: there is nothing to be unsure about.
    remote.will(answer)

    with pytest.raises(CloudElementsBadResponseError) as caught:
        cloud_elements.get_instance(58992)

    assert type(caught.value) is CloudElementsBadResponseError
    assert caught.value.ambiguous is False


def test_a_redirect_to_a_change_stays_definite(remote):  # noqa: F811
    # Redirects are never followed, so the request never reached its target.
    remote.will(reply(302, b""))

    with pytest.raises(CloudElementsBadResponseError) as caught:
        create()

    assert caught.value.ambiguous is False


# --- Toggle and edit say what Cloud Elements now holds ------------------------------------------


@pytest.fixture
def archive(make_instance):
    instance = make_instance("API Instance", status=Status.ACTIVE, remote_id=58992)
    WebhookSettings.objects.filter(instance=instance).update(
        enabled=False, callback_url="https://hooks.example.com/x/"
    )
    return instance


def test_a_toggle_answered_with_a_proxy_page_reads_back_and_says_events_are_on(
    remote,  # noqa: F811
    client,
    operator,
    archive,
):
    # The PATCH went through (events on at Cloud Elements); the answer was a proxy's page.
    remote.will(UNREADABLE["html"], reply(200, INSTANCE))
    client.force_login(operator)

    response = client.post(
        reverse("instances:events", args=[archive.uuid]), {"enabled": "on"}, follow=True
    )

    assert remote.methods() == ["PATCH", "GET"]
    assert WebhookSettings.objects.get(instance=archive).enabled is True
    [(level, text)] = shown_messages(response)
    assert level == "error"
    assert text.startswith("API Instance: events are now on (read back from Cloud Elements).")
    assert "still" not in text


def test_a_toggle_that_cannot_be_read_back_says_the_state_is_unknown(
    remote,  # noqa: F811
    client,
    operator,
    archive,
):
    remote.will(UNREADABLE["truncated"], reply(404, {"message": "gone"}))
    client.force_login(operator)

    response = client.post(
        reverse("instances:events", args=[archive.uuid]), {"enabled": "on"}, follow=True
    )

    [(level, text)] = shown_messages(response)
    assert text.startswith("API Instance: events may be on or off")
    assert "still" not in text


def test_an_edit_answered_with_a_truncated_body_reads_back_and_never_says_nothing_changed(
    remote,  # noqa: F811
    client,
    operator,
    archive,
):
    remote.will(UNREADABLE["truncated"], reply(200, {**INSTANCE, "name": "Renamed remotely"}))
    client.force_login(operator)

    response = client.post(
        reverse("instances:edit", args=[archive.uuid]),
        {
            "name": "Renamed remotely",
            "tags": "marketing",
            "event_callback_url": "https://hooks.example.com/x/",
            "new_signature_key": "",
        },
    )

    page = html.unescape(response.text)
    assert remote.methods() == ["PATCH", "GET"]
    assert response.status_code == 400
    assert "Nothing was changed" not in page
    assert "Cloud Elements did not confirm the change; the instance was read back" in page
    assert ElementInstance.objects.get(pk=archive.pk).name == "Renamed remotely"


# --- Create: unknown and reconciled, never a second remote instance -----------------------------


def test_a_create_answered_with_a_proxy_page_is_reconciled_not_failed(
    remote,  # noqa: F811
    operator,
    make_instance,
):
    from instances import consent

    instance = make_instance("API Instance", authentication_type="apiKey", api_key="k" * 20)
    # POST carried out, answer unreadable; the reconcile's search finds it, then reads it.
    remote.will(UNREADABLE["html"], reply(200, [INSTANCE]), reply(200, INSTANCE))

    consent.create_with_api_key(instance=instance, actor=operator)

    instance.refresh_from_db()
    assert remote.methods() == ["POST", "GET", "GET"]
    assert instance.status == Status.ACTIVE
    assert instance.remote_id == 58992
    assert instance.audit_entries.filter(action=AuditEntry.Action.RECONCILED).exists()


@pytest.fixture
def garbled(monkeypatch):
    """Garble chosen answers at the transport seam, after the sandbox carried the request out.

    `garbled[("POST", "/instances")] = n` replaces the next n answers to that call with a
    proxy's HTML page; a GET listed that way fails as a dropped connection instead.
    """
    faults: dict[tuple[str, str], int] = {}
    real_send = HTTPAdapter.send

    def send(adapter, request, **kwargs):
        path = request.path_url.split("?")[0].removeprefix("/sandbox/elements/api-v2")
        key = (request.method, path)
        if faults.get(key, 0) > 0 and request.method == "GET":
            faults[key] -= 1
            raise requests.ConnectionError("connection reset by peer")
        response = real_send(adapter, request, **kwargs)
        if faults.get(key, 0) > 0:
            faults[key] -= 1
            response._content = PROXY_PAGE
            response.headers["Content-Type"] = "text/html"
        return response

    monkeypatch.setattr(HTTPAdapter, "send", send)
    return faults


def press_retry_like_an_operator(client: Client, instance: ElementInstance, settings) -> None:
    """Retry; if it leads to a consent screen, allow it and come back, as a person would."""
    response = client.post(reverse("instances:retry", args=[instance.uuid]))
    assert response.status_code == 302
    if response["Location"].startswith(settings.SITE_URL + "/sandbox/"):
        query = allow_consent(response["Location"], settings)
        assert client.get(CALLBACK, query).status_code == 302


@pytest.mark.django_db(transaction=True)
def test_retry_after_an_unreadable_create_never_makes_a_second_remote_instance(
    sandbox_site, settings, operator, garbled
):
    client = Client()
    client.force_login(operator)
    data = form_data(name="Proxy Victim")
    response = client.post(NEW, data)
    assert response.status_code == 302
    query = allow_consent(response["Location"], settings)
    # The create happens at Cloud Elements; its answer is a proxy page, and the first check
    # (the search right after) fails too, so the instance must wait as unknown.
    garbled[("POST", "/instances")] = 1
    garbled[("GET", "/instances")] = 1

    assert client.get(CALLBACK, query).status_code == 302

    instance = ElementInstance.objects.get(uuid=data["instance_uuid"])
    assert instance.status == Status.UNKNOWN
    assert SandboxInstance.objects.filter(name="Proxy Victim").count() == 1

    press_retry_like_an_operator(client, instance, settings)

    instance.refresh_from_db()
    remote_ids = list(
        SandboxInstance.objects.filter(name="Proxy Victim").values_list("id", flat=True)
    )
    assert remote_ids == [instance.remote_id]
    assert instance.status == Status.ACTIVE


def test_the_admin_action_answered_with_a_proxy_page_says_what_was_read_back(
    remote,  # noqa: F811
    client,
    operator,
    archive,
):
    remote.will(UNREADABLE["html"], reply(200, INSTANCE))
    client.force_login(operator)

    response = client.post(
        reverse("admin:instances_elementinstance_changelist"),
        {"action": "enable_events", "_selected_action": [archive.pk], "index": 0},
        follow=True,
    )

    [(level, _)] = shown_messages(response)
    assert level == "success"  # a job was started; the worker runs it
    job = Job.objects.get()
    assert engine.run_job(job.pk) == "done"
    assert WebhookSettings.objects.get(instance=archive).enabled is True
    [item] = job.items.all()
    assert item.status == "failed"
    assert item.message.startswith(
        "API Instance: events are now on (read back from Cloud Elements)."
    )
