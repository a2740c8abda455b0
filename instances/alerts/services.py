"""Telling people about incidents: which channels an incident concerns, the deliveries that are
due (opened, resolved, a daily reminder), sending one (e-mail or a signed webhook), and retrying
it with backoff a bounded number of times.

Which deliveries are due is `dispatch.py`'s; the task that sends one is `tasks.py`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from datetime import datetime, timedelta

import requests
from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from instances.alerts.models import Channel, Delivery
from instances.health.models import Incident, Problem

logger = logging.getLogger(__name__)
Event = Delivery.Event
Status = Delivery.Status
# Attempts of one delivery before it counts as failed; the wait doubles from a minute.
MAX_ATTEMPTS = 5
FIRST_WAIT = timedelta(minutes=1)
# Failed deliveries in a row that flag a channel.
FLAG_AFTER = 3
REMIND_EVERY = timedelta(days=1)
# Resolved incidents still told about (a sweep that was down a while catches up).
RESOLVED_LOOKBACK = timedelta(days=7)
WEBHOOK_TIMEOUT = (3.05, 10)


def concerns(channel: Channel, incident: Incident) -> bool:
    if channel.problem_kinds and incident.kind not in channel.problem_kinds:
        return False
    if channel.element and channel.element not in incident.elements:
        return False
    if channel.tag:
        tagged = Problem.objects.filter(incident=incident, instance__tags__name__iexact=channel.tag)
        return tagged.exists()
    return True


def send_test(channel: Channel) -> Delivery:
    """**Send a test**: one delivery, sent now, recorded like any other."""
    delivery = Delivery.objects.create(
        channel=channel, event=Event.TEST, next_attempt_at=timezone.now()
    )
    return send(delivery.pk)


def send(delivery_id: int, *, now: datetime | None = None) -> Delivery:
    """Send one pending delivery that is due; on failure, wait longer each time, then give up
    (and count the failure against the channel). A second task for the same delivery (queued
    again by a later dispatch) finds it claimed, not due, and sends nothing."""
    now = max(now or timezone.now(), timezone.now())
    with transaction.atomic():
        delivery = (
            Delivery.objects.select_for_update(of=("self",))
            .select_related("channel", "incident")
            .filter(pk=delivery_id, status=Status.PENDING, next_attempt_at__lte=now)
            .first()
        )
        if delivery is None:
            return Delivery.objects.get(pk=delivery_id)
        # Claimed: a second worker given the same id finds it pushed into the future.
        Delivery.objects.filter(pk=delivery.pk).update(
            attempts=F("attempts") + 1, next_attempt_at=now + timedelta(minutes=10)
        )
    delivery.refresh_from_db()
    channel = delivery.channel
    try:
        delivery.response_status = _deliver(delivery)
    except Exception as error:  # noqa: BLE001 (any failure of the channel is recorded)
        return _failed(delivery, channel, error, now)
    delivery.status = Status.SENT
    delivery.sent_at = timezone.now()
    delivery.next_attempt_at = None
    delivery.last_error = ""
    delivery.save()
    Channel.objects.filter(pk=channel.pk).update(consecutive_failures=0, flagged_at=None)
    return delivery


def _failed(delivery: Delivery, channel: Channel, error: Exception, now: datetime) -> Delivery:
    delivery.last_error = str(error)[:2000] or type(error).__name__
    if delivery.attempts >= MAX_ATTEMPTS or delivery.event == Event.TEST:
        delivery.status = Status.FAILED
        delivery.next_attempt_at = None
        failures = channel.consecutive_failures + 1
        Channel.objects.filter(pk=channel.pk).update(
            consecutive_failures=failures,
            flagged_at=channel.flagged_at or (timezone.now() if failures >= FLAG_AFTER else None),
        )
    else:
        delivery.next_attempt_at = now + FIRST_WAIT * 2 ** (delivery.attempts - 1)
    delivery.save()
    logger.warning("alert delivery %s to %s failed: %s", delivery.pk, channel, delivery.last_error)
    return delivery


class DeliveryError(Exception):
    pass


def _deliver(delivery: Delivery) -> int | None:
    subject, text, payload = message(delivery)
    channel = delivery.channel
    if channel.kind == Channel.Kind.EMAIL:
        send_mail(subject, text, settings.DEFAULT_FROM_EMAIL, channel.recipients())
        return None
    body = json.dumps(payload, separators=(",", ":"))
    stamp = str(int(time.time()))
    signature = hmac.new(
        channel.signing_secret.encode(), f"{stamp}.{body}".encode(), hashlib.sha256
    ).hexdigest()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "cloud-elements-dashboard-alerts",
        "X-Dashboard-Delivery": str(delivery.pk),
        "X-Dashboard-Timestamp": stamp,
        "X-Dashboard-Signature": f"sha256={signature}",
    }
    try:
        response = _post(channel, body, headers)
    except requests.RequestException as error:
        # Never the exception's text: it names the URL, whose path is the secret of a Slack
        # (and many another) incoming webhook, and it would reach the incident page and the log.
        raise DeliveryError(f"The webhook could not be reached ({type(error).__name__}).") from None
    if not 200 <= response.status_code < 300:
        raise DeliveryError(f"The webhook answered {response.status_code}.")
    return response.status_code


def _post(channel: Channel, body: str, headers: dict[str, str]) -> requests.Response:
    return requests.post(
        channel.target,
        data=body.encode(),
        headers=headers,
        timeout=WEBHOOK_TIMEOUT,
        allow_redirects=False,
    )


def message(delivery: Delivery) -> tuple[str, str, dict]:
    """Subject, plain text (also the webhook's Slack-compatible `text`) and the JSON payload."""
    incident = delivery.incident
    if incident is None:
        text = f"Test alert from the Cloud Elements dashboard to “{delivery.channel}”."
        return "Test alert", text, {"type": "test", "text": text}
    url = settings.SITE_URL + incident.get_absolute_url()
    state = {
        Event.OPENED: "Open",
        Event.REMINDER: "Still open",
        Event.RESOLVED: "Resolved",
    }[delivery.event]
    subject = f"[{state}] {incident.title}"
    text = f"{subject}\n{url}"
    payload = {
        "type": f"incident.{delivery.event}",
        "text": text,
        "incident": {
            "id": incident.pk,
            "kind": incident.kind,
            "title": incident.title,
            "instances": incident.instance_count,
            "elements": incident.elements,
            "opened_at": incident.opened_at.isoformat(),
            "resolved_at": incident.resolved_at.isoformat() if incident.resolved_at else None,
            "url": url,
        },
    }
    return subject, text, payload
