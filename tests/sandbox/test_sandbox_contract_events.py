"""Events the Cloud Elements way, and Cloud Elements' event log (reference sections 5-7).

Written from cloud-elements-api.md: Dropbox's Webhook URI is Cloud Elements'
`/events/dropbox` (section 7); Cloud Elements notifies `event.notification.callback.url`,
signed (section 6); the event log is `/instances/{id}/events` and friends (section 5); a failed
callback is retried and, after the last failure, later events are queued (section 6).

Where the reference is silent the sandbox had to choose, and the tests say so:
- Dropbox's notification names accounts only; which Dropbox account is behind an instance is
  not in the Cloud Elements API, so the sandbox gives each instance its own account,
  `dbid:sandbox-<instance id>` (the sandbox's choice).
- The five statuses are listed but not defined (section 5). The sandbox reads the list as the
  pipeline's order; an event the callback accepted is NOTIFIED, one not (yet) notified is not.
- The next-page header is not named (section 5: "the next-page token in a response header");
  the sandbox uses `Elements-Next-Page-Token`.
- Success is assumed to be any 2xx (section 6: UNCONFIRMED).
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from instances.events.signatures import sign
from instances.sandbox import delivery
from instances.sandbox.models import SandboxInstance
from tests.conftest import AUTH_HEADER
from tests.sandbox import test_sandbox_delivery
from tests.sandbox.contract import (
    API,
    SIGNING_KEY,
    assert_error,
    get,
    instance_body,
    new_code,
    post_json,
)

# The delivery tests' fixtures: a webhook receiver on 127.0.0.1, and no HTTP proxy.
receiver = test_sandbox_delivery.receiver
loopback_only = test_sandbox_delivery.loopback_only

pytestmark = pytest.mark.django_db

STATUSES = {"NEW", "RECEIVED", "DISPATCHED", "CONSUMED", "NOTIFIED"}


def create_with_callback(client, url: str, *, name="Finance Dropbox", events=True) -> dict:
    body = instance_body(new_code(client), name=name)
    body["configuration"]["event.notification.callback.url"] = url
    body["configuration"]["event.notification.enabled"] = events
    response = post_json(client, "/instances", body)
    assert response.status_code == 200, response.content
    return response.json()


def account(instance: dict) -> str:
    return f"dbid:sandbox-{instance['id']}"  # the sandbox's choice, see the module docstring


def dropbox_posts(client, *instances: dict):
    """Dropbox's own webhook body: account ids only (no Cloud Elements Authorization)."""
    body = {"list_folder": {"accounts": [account(i) for i in instances]}, "delta": {"users": [1]}}
    return client.post(f"{API}/events/dropbox", body, content_type="application/json")


def events_of(client, instance: dict, **query) -> list[dict]:
    response = get(client, f"/instances/{instance['id']}/events", query)
    assert response.status_code == 200, response.content
    return response.json()


# --- 7. Dropbox -> Cloud Elements -> callback -----------------------------------------------


def test_dropbox_posts_to_events_dropbox_and_each_instance_is_notified_signed(client, receiver):
    first = create_with_callback(client, receiver.url, name="First")
    second = create_with_callback(client, receiver.url, name="Second")

    response = dropbox_posts(client, first, second)

    assert response.status_code == 200
    assert len(receiver.requests) == 2
    by_instance = {json.loads(r.body)["message"]["instanceId"]: r for r in receiver.requests}
    assert set(by_instance) == {first["id"], second["id"]}
    for instance in (first, second):
        request = by_instance[instance["id"]]
        # Section 6: sha256= base64 HMAC of the raw body; Elements-Webhook-Id not empty.
        assert request.headers["Elements-Webhook-Signature"] == sign(SIGNING_KEY, request.body)
        assert request.headers["Elements-Webhook-Id"]
        message = json.loads(request.body)["message"]
        assert message["elementKey"] == "dropbox"
        assert message["instanceName"] == instance["name"]
        (logged,) = events_of(client, instance)
        # The notified body is the one the event log keeps, with the same event id.
        assert str(logged["id"]) == str(message["eventId"])
        assert logged["notifiedData"] == json.loads(request.body)
        assert logged["providerData"]["list_folder"]["accounts"] == [
            account(first),
            account(second),
        ]


def test_dropbox_verifies_the_webhook_uri_with_a_challenge(client):
    """Dropbox's verification request (its own docs; the reference only names the URI)."""
    response = client.get(f"{API}/events/dropbox", {"challenge": "abc123"})

    assert response.status_code == 200
    assert response.content == b"abc123"


def test_a_body_that_is_not_a_dropbox_notification_is_refused(client):
    # The sandbox's choice: 400 in the documented error shape.
    response = client.post(f"{API}/events/dropbox", {"x": 1}, content_type="application/json")

    assert_error(response, 400)


def test_simulate_a_dropbox_change_goes_through_events_dropbox(client, receiver, operator):
    """ "Simulate a Dropbox change" plays Dropbox: the change shows in Cloud Elements' log with
    Dropbox's notification as providerData, and the callback gets the normalised event."""
    instance = create_with_callback(client, receiver.url)
    client.force_login(operator)

    client.post(
        f"/sandbox/instances/{instance['id']}/simulate",
        {"event_type": "CREATED", "path": "/Reports/q3.pdf"},
    )

    (logged,) = events_of(client, instance)
    assert logged["status"] == "NOTIFIED"
    assert logged["providerData"]["list_folder"]["accounts"] == [account(instance)]
    (event,) = logged["notifiedData"]["message"]["events"]
    assert (event["eventType"], event["objectId"]) == ("CREATED", "/Reports/q3.pdf")
    assert json.loads(receiver.requests[0].body) == logged["notifiedData"]


def test_a_disabled_instance_gets_no_events(client, receiver):
    """Section 5: a disabled instance "refuses API calls and gets no events" (issue 14)."""
    instance = create_with_callback(client, receiver.url)
    client.delete(f"{API}/instances/{instance['id']}/enabled", HTTP_AUTHORIZATION=AUTH_HEADER)

    assert dropbox_posts(client, instance).status_code == 200

    assert receiver.requests == []
    assert events_of(client, instance) == []


def test_an_instance_with_events_off_gets_no_events(client, receiver):
    """Section 4: events are off by default; no subscription, so nothing is recorded."""
    instance = create_with_callback(client, receiver.url, events=False)

    dropbox_posts(client, instance)

    assert receiver.requests == []
    assert events_of(client, instance) == []


# --- 8. The event log -----------------------------------------------------------------------


def test_the_event_log_answers_the_documented_fields(client, receiver):
    """Section 5: "Fields: `id`, `eventDate`, `status` (...), `providerData`, `notifiedData`"."""
    instance = create_with_callback(client, receiver.url)
    dropbox_posts(client, instance)

    (logged,) = events_of(client, instance)

    assert {"id", "eventDate", "status", "providerData", "notifiedData"} <= set(logged)
    assert logged["status"] in STATUSES
    assert logged["status"] == "NOTIFIED"
    by_id = get(client, f"/instances/events/{logged['id']}")
    assert by_id.status_code == 200 and by_id.json() == logged
    scoped = get(client, f"/instances/{instance['id']}/events/{logged['id']}")
    assert scoped.status_code == 200 and scoped.json() == logged


def test_an_event_is_not_found_under_another_instance(client, receiver):
    first = create_with_callback(client, receiver.url, name="First")
    second = create_with_callback(client, receiver.url, name="Second")
    dropbox_posts(client, first)
    (logged,) = events_of(client, first)

    assert_error(get(client, f"/instances/{second['id']}/events/{logged['id']}"), 404)
    assert_error(get(client, "/instances/events/987654"), 404)


def test_the_account_wide_list_pages_with_page_size_and_next_page(client, receiver):
    """Section 5: list endpoints page with `pageSize` and `nextPage`, the next-page token in a
    response header (its name is the sandbox's choice, see the module docstring)."""
    first = create_with_callback(client, receiver.url, name="First")
    second = create_with_callback(client, receiver.url, name="Second")
    dropbox_posts(client, first, second)
    dropbox_posts(client, first)

    page = get(client, "/instances/events", {"pageSize": 2})
    assert page.status_code == 200
    assert len(page.json()) == 2
    token = page["Elements-Next-Page-Token"]
    rest = get(client, "/instances/events", {"pageSize": 2, "nextPage": token})
    assert len(rest.json()) == 1
    assert "Elements-Next-Page-Token" not in rest
    ids = [e["id"] for e in page.json() + rest.json()]
    assert len(set(ids)) == 3
    assert len(events_of(client, first)) == 2


def test_the_event_log_needs_the_user_and_organization_secrets(client):
    assert_error(client.get(f"{API}/instances/events"), 401)


# --- 8. A failing callback: retries, then queueing (section 6) ------------------------------


def test_a_failed_callback_is_retried_after_four_seconds_and_then_notified(client, receiver):
    """Section 6: retry is the default policy; the x-th retry comes after 2^(2x) s (4 s, ...).
    The other documented version (5 retries, 2^(3x) s) is not modelled."""
    receiver.status = 502
    instance = create_with_callback(client, receiver.url)
    dropbox_posts(client, instance)
    (logged,) = events_of(client, instance)
    assert logged["status"] != "NOTIFIED"

    now = timezone.now()
    assert delivery.retry_due(now=now + timedelta(seconds=3)) == []
    receiver.status = 200
    retried = delivery.retry_due(now=now + timedelta(seconds=5))

    assert len(retried) == 1
    assert len(receiver.requests) == 2
    assert receiver.requests[0].body == receiver.requests[1].body  # the same event again
    assert events_of(client, instance)[0]["status"] == "NOTIFIED"


def test_after_the_last_retry_the_subscription_is_deactivated_and_events_queue(client, receiver):
    """Section 6: "up to 9" retries; then "the event subscription is deactivated, and future
    events are queued for retrieval by the user until the subscription is reactivated"."""
    receiver.status = 500
    instance = create_with_callback(client, receiver.url)
    dropbox_posts(client, instance)
    later = timezone.now()
    for attempt in range(1, 10):
        later += timedelta(seconds=2 ** (2 * attempt) + 1)
        assert len(delivery.retry_due(now=later)) == 1, attempt
    assert len(receiver.requests) == 10  # the first attempt and 9 retries
    assert delivery.retry_due(now=later + timedelta(days=30)) == []

    receiver.status = 200
    dropbox_posts(client, instance)

    assert len(receiver.requests) == 10  # queued, not sent
    newest = events_of(client, instance)[0]
    assert newest["status"] != "NOTIFIED"
    assert not SandboxInstance.objects.get(pk=instance["id"]).subscription_active
