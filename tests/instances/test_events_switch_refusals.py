"""Who may press the events switch, and when: otherwise nothing is sent to Cloud Elements.

A view-only user is forbidden, a non-staff user is sent to the login page, a GET is not allowed,
and a draft or deleted instance has no events to switch. `PATCH /instances/{id}` is faked at the
client's seam, recording what would have been sent.
"""

from __future__ import annotations

from instances.models import ElementInstance
from tests.instances.lifecycle_helpers import (
    ACTIVE,
    audit_actions,
    events_url,
    reload,
    shown_messages,
)


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
