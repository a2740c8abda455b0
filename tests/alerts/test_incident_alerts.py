"""Instances that break together are one incident, told once when it opens and once when it
resolves, by e-mail (a real SMTP server) and by a signed webhook (a real HTTP listener); a
failing channel is retried with backoff, then given up and flagged; a daily reminder."""

from __future__ import annotations

import hashlib
import hmac
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from instances.alerts import dispatch, services
from instances.alerts.models import Channel, Delivery
from instances.health import sweep
from instances.health.models import Incident
from instances.models import ElementInstance, Tag

pytestmark = pytest.mark.django_db
ACTIVE = ElementInstance.Status.ACTIVE


def subject(mail) -> str:
    return " ".join(mail["message"]["Subject"].split())  # unfolded


def _send_due(now=None) -> list[Delivery]:
    """What the task worker does with what dispatch queued."""
    return [services.send(pk, now=now) for pk in dispatch.dispatch(now)]


def _fleet(make_instance, count: int, **fields) -> list[ElementInstance]:
    return [
        make_instance(f"Customer {n}", status=ACTIVE, remote_id=1000 + n, **fields)
        for n in range(count)
    ]


def test_fifty_instances_invalidated_together_are_one_incident_told_once(
    make_instance, smtp, listener, settings
):
    settings.SITE_URL = "https://dash.example.com"
    Channel.objects.create(name="On call", kind="email", target="oncall@example.com")
    hook = Channel.objects.create(name="Slack", kind="webhook", target=listener.url)
    fleet = _fleet(make_instance, 50)
    sweep.sweep()
    assert not Incident.objects.exists()
    ElementInstance.objects.filter(pk__in=[i.pk for i in fleet]).update(
        remote_valid=False, updated_at=timezone.now()
    )

    sweep.sweep()
    sent = _send_due()

    incident = Incident.objects.get()
    assert (incident.kind, incident.instance_count, incident.is_open) == ("invalid", 50, True)
    assert incident.title.startswith("50 Dropbox instances became invalid at Cloud Elements")
    assert [d.status for d in sent] == ["sent", "sent"]
    [mail] = smtp
    assert mail["to"] == ["oncall@example.com"]
    assert subject(mail) == f"[Open] {incident.title}"
    assert f"https://dash.example.com/instances/incidents/{incident.pk}/" in str(mail["message"])
    [call] = listener.received
    assert call["json"]["type"] == "incident.opened" and call["json"]["incident"]["instances"] == 50
    assert call["json"]["text"].startswith("[Open] 50 Dropbox instances")  # Slack's field
    stamp = call["headers"]["X-Dashboard-Timestamp"]
    expected = hmac.new(
        hook.signing_secret.encode(), f"{stamp}.".encode() + call["body"], hashlib.sha256
    ).hexdigest()
    assert call["headers"]["X-Dashboard-Signature"] == f"sha256={expected}"

    # Later sweeps say nothing new while it stays open.
    sweep.sweep()
    assert _send_due() == [] and len(smtp) == 1 and len(listener.received) == 1

    ElementInstance.objects.filter(pk__in=[i.pk for i in fleet]).update(
        remote_valid=True, updated_at=timezone.now()
    )
    sweep.sweep()
    _send_due()

    incident.refresh_from_db()
    assert incident.resolved_at is not None
    assert subject(smtp[1]) == f"[Resolved] {incident.title}"
    assert listener.received[1]["json"]["type"] == "incident.resolved"
    assert _send_due() == [] and len(smtp) == 2


def test_a_new_instance_with_the_same_problem_joins_the_open_incident(make_instance):
    first = _fleet(make_instance, 3, remote_disabled=True)
    sweep.sweep()
    later = make_instance("Later", status=ACTIVE, remote_id=9, remote_disabled=True)
    sweep.sweep()
    incident = Incident.objects.get()
    assert incident.instance_count == 4 and later.problems.get().incident == incident
    assert first[0].problems.get().incident == incident


def test_a_failing_webhook_is_retried_with_backoff_then_given_up_and_flagged(
    make_instance, listener
):
    channel = Channel.objects.create(name="Flaky", kind="webhook", target=listener.url)
    listener.statuses = [500, 503]
    _fleet(make_instance, 2, remote_valid=False)
    sweep.sweep()
    now = timezone.now()

    [first] = _send_due(now)
    assert (first.status, first.attempts, first.last_error) == (
        "pending",
        1,
        "The webhook answered 500.",
    )
    assert _send_due(now) == []  # not due yet: a minute's wait
    [second] = _send_due(now + timedelta(minutes=2))
    assert (second.status, second.attempts) == ("pending", 2)
    [third] = _send_due(now + timedelta(minutes=10))
    assert (third.status, third.attempts, third.response_status) == ("sent", 3, 200)
    assert len(listener.received) == 3

    # A channel that never answers well: MAX_ATTEMPTS, then failed; three such, flagged.
    listener.statuses = [500] * 100
    incident = Incident.objects.get()
    for _ in range(3):
        Delivery.objects.create(
            channel=channel, incident=incident, event="reminder", next_attempt_at=now
        )
    for step in range(services.MAX_ATTEMPTS + 1):
        _send_due(now + timedelta(hours=step))
    channel.refresh_from_db()
    failed = channel.deliveries.filter(event="reminder", attempts__gt=0)
    assert [d.status for d in failed] == ["failed"] * 3
    assert all(d.attempts == services.MAX_ATTEMPTS for d in failed)
    assert channel.flagged_at is not None and channel.consecutive_failures == 3


def test_channels_filter_by_problem_element_and_tag(make_instance, smtp):
    Channel.objects.create(
        name="Disabled only", kind="email", target="a@example.com", problem_kinds=["disabled"]
    )
    Channel.objects.create(name="EU", kind="email", target="eu@example.com", tag="eu")
    eu = Tag.for_names(["eu"])
    for instance in _fleet(make_instance, 2, remote_valid=False):
        instance.tags.set(eu)
    sweep.sweep()
    _send_due()
    assert [m["to"] for m in smtp] == [["eu@example.com"]]


def test_a_delivery_queued_twice_is_sent_once(make_instance, listener):
    Channel.objects.create(name="Hook", kind="webhook", target=listener.url)
    _fleet(make_instance, 1, remote_valid=False)
    sweep.sweep()
    [pk] = dispatch.dispatch()

    first, second = services.send(pk), services.send(pk)  # two tasks for one delivery

    assert first.status == second.status == "sent" and len(listener.received) == 1


def test_a_reminder_a_day_while_it_stays_open(make_instance, smtp):
    Channel.objects.create(name="On call", kind="email", target="oncall@example.com")
    _fleet(make_instance, 1, remote_valid=False)
    sweep.sweep()
    _send_due()
    Delivery.objects.update(created_at=timezone.now() - timedelta(days=1, minutes=1))

    _send_due()
    _send_due()

    subjects = [subject(m) for m in smtp]
    assert len(subjects) == 2
    assert subjects[1].startswith("[Still open] 1 Dropbox instance became invalid")


def test_send_a_test_from_the_admin(admin_client, smtp, listener, caplog):
    mail = Channel.objects.create(name="Mail", kind="email", target="x@example.com")
    secret_path = "/services/T0001/B0002/sEcReTtOkEn"  # a Slack webhook's path is its secret
    broken = Channel.objects.create(
        name="Nowhere", kind="webhook", target=f"http://127.0.0.1:9{secret_path}"
    )
    url = reverse("admin:alerts_channel_changelist")

    response = admin_client.post(
        url, {"action": "send_test", "_selected_action": [mail.pk, broken.pk]}, follow=True
    )

    text = response.content.decode()
    assert "Test sent to “Mail”." in text and "Test to “Nowhere” failed:" in text
    assert subject(smtp[0]) == "Test alert"
    failed = broken.deliveries.get()
    assert failed.status == "failed"
    assert failed.last_error == "The webhook could not be reached (ConnectionError)."
    assert "sEcReTtOkEn" not in text and "sEcReTtOkEn" not in caplog.text


def test_the_incident_page_lists_its_instances_and_alerts(client, operator, make_instance, smtp):
    Channel.objects.create(name="On call", kind="email", target="oncall@example.com")
    fleet = _fleet(make_instance, 3, remote_valid=False)
    sweep.sweep()
    _send_due()
    incident = Incident.objects.get()
    client.force_login(operator)

    page = client.get(incident.get_absolute_url()).text

    assert all(i.name in page for i in fleet)
    assert "Incident opened" in page and "On call" in page and "Sent" in page
    assert incident.title in client.get(reverse("health:incidents")).text
