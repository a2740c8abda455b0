"""One event notification as a page: every field, the body pretty-printed and escaped."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from instances.events.models import EventNotification

HOSTILE = "</pre><script>alert('owned')</script>"
BODY = json.dumps(
    {
        "message": {
            "eventId": "evt-7f3a",
            "events": [
                {"eventType": "CREATED", "objectType": "file", "objectId": "/Reports/q3.pdf"},
                {"eventType": "DELETED", "objectType": "folder", "objectId": HOSTILE},
            ],
        }
    },
    separators=(",", ":"),
)


def deliver(instance, *, body: str = BODY) -> EventNotification:
    """Store a delivery as the receiver would have."""
    data = json.loads(body)["message"]
    return EventNotification.objects.create(
        instance=instance,
        dedup_key=f"event:{data['eventId']}",
        remote_event_id=data["eventId"],
        webhook_id="wh-2b91",
        signature=EventNotification.Signature.VERIFIED,
        event_type="MIXED",
        object_type="file",
        object_id="/Reports/q3.pdf",
        events=data["events"],
        body=body,
    )


def event_url(instance, event) -> str:
    return reverse("events:detail", args=[instance.uuid, event.pk])


@pytest.fixture
def delivered(make_instance):
    instance = make_instance("Events Dropbox")
    return instance, deliver(instance)


def test_the_page_shows_every_field_of_the_delivery(client, operator, delivered):
    instance, event = delivered
    client.force_login(operator)
    response = client.get(event_url(instance, event))
    assert response.status_code == 200
    html = response.text
    assert f'href="{instance.get_absolute_url()}"' in html and "Events Dropbox" in html
    assert event.received_at.strftime("%Y-%m-%d %H:%M") in html
    assert "Verified" in html
    assert "wh-2b91" in html and "evt-7f3a" in html
    for cell in ("CREATED", "DELETED", "file", "folder", "/Reports/q3.pdf"):
        assert f"{cell}<" in html, cell
    # Pretty-printed: one key per line, indented by two spaces.
    assert "  &quot;message&quot;: {\n    &quot;eventId&quot;: &quot;evt-7f3a&quot;" in html
    assert 'data-copy-target="event-body"' in html


def test_a_hostile_body_is_escaped(client, operator, delivered):
    instance, event = delivered
    client.force_login(operator)
    html = client.get(event_url(instance, event)).text
    assert "<script>alert" not in html
    assert "&lt;script&gt;alert(&#x27;owned&#x27;)&lt;/script&gt;" in html


def test_a_body_that_is_not_json_is_shown_as_received(client, operator, make_instance):
    instance = make_instance()
    event = deliver(instance)
    EventNotification.objects.filter(pk=event.pk).update(body="not json <b>")
    client.force_login(operator)
    assert "not json &lt;b&gt;" in client.get(event_url(instance, event)).text


def test_an_event_of_another_instance_is_not_found(client, operator, make_instance, delivered):
    _, event = delivered
    other = make_instance("Other Dropbox")
    client.force_login(operator)
    assert client.get(event_url(other, event)).status_code == 404


def test_the_page_is_for_staff_only(client, outsider, delivered):
    instance, event = delivered
    assert client.get(event_url(instance, event)).status_code == 302
    client.force_login(outsider)
    response = client.get(event_url(instance, event))
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_a_view_only_staff_user_can_read_it(client, viewer, delivered):
    instance, event = delivered
    client.force_login(viewer)
    assert client.get(event_url(instance, event)).status_code == 200


def test_each_row_of_the_event_log_links_to_its_page(client, operator, delivered):
    instance, event = delivered
    client.force_login(operator)
    html = client.get(instance.get_absolute_url()).text
    assert f'href="{event_url(instance, event)}"' in html


def test_the_admin_shows_the_body_formatted_and_escaped(client, operator, delivered):
    _, event = delivered
    client.force_login(operator)
    url = reverse("admin:events_eventnotification_change", args=[event.pk])
    html = client.get(url).text
    assert '<pre class="event-body">{\n  &quot;message&quot;: {' in html
    assert "<script>alert" not in html
