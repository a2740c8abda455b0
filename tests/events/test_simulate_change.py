"""The sandbox's "Simulate a Dropbox change" delivers over real HTTP to this dashboard's receiver.

The simulated change arrives as a verified notification (unsigned without keys) and shows in
the event log; with events disabled nothing is delivered, a key mismatch is reported as a failed
delivery (401), and an invalid change is refused. Only operators see the form and may post it.
"""

from __future__ import annotations

import pytest
from django.urls import reverse

from instances.cloud_elements import client as cloud_elements
from instances.events.models import EventNotification
from instances.models import ElementInstance
from instances.sandbox.models import SandboxDelivery, SandboxInstance
from tests.events.event_log_helpers import ACTIVE, UNSIGNED, VERIFIED, event_rows
from tests.sandbox_helpers import make_active

KEY = "event-log-signing-key-Rr5"


# --- Simulate a Dropbox change, over real HTTP ---------------------------------------------------

live = pytest.mark.django_db(transaction=True)


@pytest.fixture
def loopback_only(monkeypatch):
    """Keep every request on 127.0.0.1 even if the environment names an HTTP proxy."""
    for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("no_proxy", "*")
    monkeypatch.setenv("NO_PROXY", "*")


def connected(
    make_instance, site_url: str, *, events: bool, remote_key: str = KEY, local_key: str = KEY
) -> ElementInstance:
    """An active instance whose sandbox twin delivers to this dashboard's receiver."""
    instance = make_active(make_instance, site_url, "Finance Dropbox", events=events)
    configuration: dict = {"event.notification.callback.url": instance.webhook.callback_url}
    if remote_key:
        configuration["event.notification.signature.key"] = remote_key
    cloud_elements.update_instance(instance.remote_id, {"configuration": configuration})
    instance.webhook.signature_key = local_key
    instance.webhook.save()
    return instance


def simulate(client, instance: ElementInstance, event_type: str, path: str = "/Reports/q3.pdf"):
    return client.post(
        reverse("sandbox:simulate", args=[instance.remote_id]),
        {"event_type": event_type, "path": path, "next": instance.get_absolute_url()},
        follow=True,
    )


def messages_of(response) -> list[tuple[str, str]]:
    return [(m.level_tag, m.message) for m in response.context["messages"]]


@live
@pytest.mark.parametrize(
    "change",
    [
        ("CREATED", "/Reports/q3.pdf", "file", "/Reports/q3.pdf"),
        ("DELETED", "/Reports/", "folder", "/Reports"),
    ],
    ids=["file-created", "folder-deleted"],
)
def test_a_simulated_change_arrives_as_a_verified_notification(
    sandbox_site, loopback_only, client, operator, make_instance, change
):
    event_type, path, object_type, object_id = change
    instance = connected(make_instance, sandbox_site.url, events=True)
    client.force_login(operator)

    response = simulate(client, instance, event_type, path)

    stored = EventNotification.objects.get()
    assert stored.instance == instance
    assert stored.signature == VERIFIED
    assert (stored.event_type, stored.object_type, stored.object_id) == (
        event_type,
        object_type,
        object_id,
    )
    sent = SandboxDelivery.objects.get()
    assert sent.status_code == 200
    assert sent.url == f"{sandbox_site.url}/webhooks/{instance.uuid}/"
    assert stored.remote_event_id == sent.event_id
    assert stored.webhook_id == sent.webhook_id
    assert stored.body == sent.body
    assert messages_of(response) == [
        ("success", f"Delivered {event_type} {path}; the callback answered 200.")
    ]
    # Back on the instance page, the delivery is in the log.
    assert response.redirect_chain[-1][0] == instance.get_absolute_url()
    assert event_rows(response.content.decode())[0][1:] == [
        event_type,
        object_type,
        object_id,
        "Verified",
        "—",  # forwarded nowhere: no destination
    ]


@live
def test_with_events_disabled_nothing_is_delivered_and_the_message_says_so(
    sandbox_site, loopback_only, client, operator, make_instance
):
    instance = connected(make_instance, sandbox_site.url, events=False)
    client.force_login(operator)

    response = simulate(client, instance, "CREATED")

    assert messages_of(response) == [("warning", "Events are disabled, so nothing was delivered.")]
    assert not SandboxDelivery.objects.exists()
    assert not EventNotification.objects.exists()


@live
def test_a_key_mismatch_is_reported_as_a_failed_delivery(
    sandbox_site, loopback_only, client, operator, make_instance
):
    instance = connected(
        make_instance, sandbox_site.url, events=True, local_key="a-different-key-Mm3"
    )
    client.force_login(operator)

    response = simulate(client, instance, "UPDATED", "/Reports/q3.pdf")

    assert messages_of(response) == [("error", "Delivery of UPDATED /Reports/q3.pdf failed: 401.")]
    assert SandboxDelivery.objects.get().status_code == 401
    assert not EventNotification.objects.exists()


@live
def test_without_keys_the_simulated_change_is_stored_as_unsigned(
    sandbox_site, loopback_only, client, operator, make_instance
):
    instance = connected(make_instance, sandbox_site.url, events=True, remote_key="", local_key="")
    client.force_login(operator)

    simulate(client, instance, "CREATED")

    assert EventNotification.objects.get().signature == UNSIGNED


@live
@pytest.mark.parametrize("event_type", ["RETRIEVED", "created", ""])
def test_an_invalid_change_gives_an_error_message(
    sandbox_site, loopback_only, client, operator, make_instance, event_type
):
    instance = connected(make_instance, sandbox_site.url, events=True)
    client.force_login(operator)

    response = simulate(client, instance, event_type)

    assert messages_of(response) == [("error", "Choose a change: created, updated or deleted.")]
    assert not SandboxDelivery.objects.exists()
    assert not EventNotification.objects.exists()


@live
def test_a_view_only_user_cannot_simulate(
    sandbox_site, loopback_only, client, viewer, make_instance
):
    instance = connected(make_instance, sandbox_site.url, events=True)
    client.force_login(viewer)

    response = client.post(
        reverse("sandbox:simulate", args=[instance.remote_id]),
        {"event_type": "CREATED", "path": "/Reports/q3.pdf"},
    )

    assert response.status_code == 403
    assert not SandboxDelivery.objects.exists()
    assert not EventNotification.objects.exists()


def test_the_simulate_form_is_shown_to_operators_only(client, operator, viewer, make_instance):
    instance = make_instance("Finance Dropbox", status=ACTIVE, remote_id=1011)
    action = reverse("sandbox:simulate", args=[1011])

    client.force_login(operator)
    as_operator = client.get(instance.get_absolute_url()).content.decode()
    client.force_login(viewer)
    as_viewer = client.get(instance.get_absolute_url()).content.decode()

    assert f'action="{action}"' in as_operator
    assert f'action="{action}"' not in as_viewer
    # The viewer still reads the event log.
    assert 'class="events-table"' in as_viewer


def test_simulate_accepts_only_post(client, operator, db):
    remote = SandboxInstance.objects.create(element_key="dropbox", name="x", token="t")
    client.force_login(operator)

    response = client.get(reverse("sandbox:simulate", args=[remote.pk]))

    assert response.status_code == 405
