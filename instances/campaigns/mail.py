"""A campaign's e-mails: one per owner (listing every link of theirs), paced, retried.

Mailings due are claimed in small batches (on PostgreSQL with SKIP LOCKED, so that the
campaign's job and the schedule's tick never send the same one), sent over
CAMPAIGN_SMTP_CONNECTIONS connections at once, at most CAMPAIGN_EMAILS_PER_MINUTE, recorded a
batch at a time, and a failure waits 1, 2, 4, 8 minutes before
the next try; after MAX_ATTEMPTS the mailing (and its instances) count as failed.
"""

from __future__ import annotations

import logging
import smtplib
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from datetime import timedelta

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import connection, transaction
from django.db.models import F, Q
from django.template.loader import render_to_string
from django.utils import timezone

from instances.campaigns.models import Campaign, Mailing, Recipient
from instances.elements.services import element_name

logger = logging.getLogger(__name__)
Status = Mailing.Status
State = Recipient.State
MAX_ATTEMPTS = 5
FIRST_WAIT = timedelta(minutes=1)
# A claimed mailing whose sender died is due again after this long (it may then be sent twice).
CLAIM = timedelta(minutes=10)
BATCH = 100
# The instances an e-mail lists: not done yet, link still usable.
LISTED = (State.WAITING, State.SENT, State.FAILED, State.OPENED, State.CONSENTED, State.REFUSED)


class Pace:
    """At most `per_minute` sends, evenly spaced, in this process (shared by its threads)."""

    def __init__(self, per_minute: int) -> None:
        self.interval = 60.0 / per_minute
        self.next_at = time.monotonic()
        self.lock = threading.Lock()

    def wait(self) -> None:
        with self.lock:
            now = time.monotonic()
            start = max(now, self.next_at)
            self.next_at = start + self.interval
        if start > now:
            time.sleep(start - now)


def due(campaign: Campaign):
    now = timezone.now()
    return Mailing.objects.filter(
        campaign=campaign, status__in=[Status.DUE, Status.RETRYING]
    ).filter(Q(next_try_at__isnull=True) | Q(next_try_at__lte=now))


def send_due(campaign: Campaign, *, keep_going: Callable[[], bool] = lambda: True) -> int:
    """Send every mailing of the campaign that is due now; returns how many were sent.

    Stops early when `keep_going()` says so (the job was cancelled) or the campaign stopped.
    """
    pace = Pace(settings.CAMPAIGN_EMAILS_PER_MINUTE)
    sent = 0
    while True:
        batch = _claim(campaign)
        if not batch:
            return sent
        if not _still_open(campaign):
            _unclaim([m.pk for m in batch])
            return sent
        sent += _send_batch(campaign, batch, pace)
        if not keep_going():
            return sent


def _send_batch(campaign: Campaign, batch: list[Mailing], pace: Pace) -> int:
    """Compose the batch's e-mails (one query for all their instances and links), send them
    over a few SMTP connections at once, then record the outcome in one transaction."""
    listed: dict[int, list[Recipient]] = defaultdict(list)
    rows = (
        Recipient.objects.filter(
            mailing_id__in=[m.pk for m in batch], state__in=LISTED, link__isnull=False
        )
        .select_related("instance", "link")
        .order_by("instance__name", "pk")
    )
    for row in rows:
        if row.link.is_live:
            listed[row.mailing_id].append(row)
    # Everything done (or revoked) since it was due: nothing to say.
    idle = [m.pk for m in batch if not listed[m.pk]]
    Mailing.objects.filter(pk__in=idle).update(status=Status.NONE, next_try_at=None)
    messages = [(m, compose(campaign, m, listed[m.pk])) for m in batch if listed[m.pk]]
    outcomes = _deliver(messages, pace)
    sent = [m for m, error in outcomes if error is None]
    _record_sent(campaign, sent)
    for mailing, error in outcomes:
        if error is not None:
            _failed(campaign, mailing, error)
    return len(sent)


def _deliver(messages: list, pace: Pace) -> list[tuple[Mailing, Exception | None]]:
    """Send over CAMPAIGN_SMTP_CONNECTIONS connections in parallel (a relay's round trips,
    not this process, bound one connection's rate); no database access in the threads."""
    if not messages:
        return []
    count = max(1, min(settings.CAMPAIGN_SMTP_CONNECTIONS, len(messages)))
    shares = [messages[n::count] for n in range(count)]
    with ThreadPoolExecutor(max_workers=count) as pool:
        results = pool.map(lambda share: _over_one_connection(share, pace), shares)
        return [outcome for share in results for outcome in share]


def _over_one_connection(share: list, pace: Pace) -> list[tuple[Mailing, Exception | None]]:
    smtp = get_connection(fail_silently=False)
    try:
        smtp.open()
    except (smtplib.SMTPException, OSError) as error:
        # The server cannot be reached: each e-mail counts one failed attempt (and waits its
        # turn to be tried again), as if the server had refused it.
        return [(mailing, error) for mailing, _ in share]
    outcomes = []
    try:
        for mailing, message in share:
            pace.wait()
            message.connection = smtp
            try:
                message.send()
            except Exception as error:  # noqa: BLE001 (any failure is this e-mail's, recorded)
                # SMTP refusals and network errors, and what the backend raises for an
                # address it cannot encode: recorded, never lost with the rest of the batch.
                outcomes.append((mailing, error))
            else:
                outcomes.append((mailing, None))
    finally:
        with suppress(smtplib.SMTPException, OSError):
            smtp.close()
    return outcomes


def _record_sent(campaign: Campaign, sent: list[Mailing]) -> None:
    if not sent:
        return
    now = timezone.now()
    by_round: dict[int, list[int]] = defaultdict(list)
    for mailing in sent:
        by_round[mailing.round].append(mailing.pk)
    with transaction.atomic():
        for round_number, pks in by_round.items():
            # Only mailings still due: one stopped meanwhile, or already recorded by a sender
            # whose claim this one outlived, is neither changed nor counted again.
            recorded = Mailing.objects.filter(
                pk__in=pks, status__in=[Status.DUE, Status.RETRYING]
            ).update(
                status=Status.SENT,
                sent_at=now,
                attempts=0,
                next_try_at=None,
                last_error="",
                reminders_sent=round_number,
            )
            counter = "reminders_sent" if round_number else "emails_sent"
            Campaign.objects.filter(pk=campaign.pk).update(**{counter: F(counter) + recorded})
        Recipient.objects.filter(
            mailing_id__in=[m.pk for m in sent], state__in=[State.WAITING, State.FAILED]
        ).update(state=State.SENT, reason="")


def _claim(campaign: Campaign) -> list[Mailing]:
    # At most a minute's worth at the configured pace: a claim outlives its batch by far, and
    # the job's lease is renewed between batches.
    size = max(1, min(BATCH, settings.CAMPAIGN_EMAILS_PER_MINUTE))
    with transaction.atomic():
        rows = due(campaign).order_by("pk")
        if connection.features.has_select_for_update_skip_locked:
            rows = rows.select_for_update(skip_locked=True)
        batch = list(rows[:size])
        Mailing.objects.filter(pk__in=[m.pk for m in batch]).update(
            next_try_at=timezone.now() + CLAIM
        )
    return batch


def _unclaim(pks: list[int]) -> None:
    Mailing.objects.filter(pk__in=pks, status__in=[Status.DUE, Status.RETRYING]).update(
        next_try_at=None
    )


def _still_open(campaign: Campaign) -> bool:
    return Campaign.objects.filter(
        pk=campaign.pk, status__in=[Campaign.Status.PREPARING, Campaign.Status.RUNNING]
    ).exists()


def _failed(campaign: Campaign, mailing: Mailing, error: Exception) -> None:
    # The class and the server's answer only: never the message (it holds the links).
    reason = type(error).__name__
    if isinstance(error, smtplib.SMTPResponseException):
        reason += f" {error.smtp_code}"
    attempts = mailing.attempts + 1
    logger.warning("Campaign %s: e-mail to mailing %s failed (%s)", campaign.pk, mailing.pk, reason)
    if attempts < MAX_ATTEMPTS:
        Mailing.objects.filter(pk=mailing.pk).update(
            status=Status.RETRYING,
            attempts=attempts,
            next_try_at=timezone.now() + FIRST_WAIT * 2 ** (attempts - 1),
            last_error=f"{reason}; trying again",
        )
        return
    with transaction.atomic():
        Mailing.objects.filter(pk=mailing.pk).update(
            status=Status.FAILED,
            attempts=attempts,
            next_try_at=None,
            last_error=f"{reason}; gave up after {attempts} attempts",
        )
        if not mailing.round:
            Campaign.objects.filter(pk=campaign.pk).update(emails_failed=F("emails_failed") + 1)
            mailing.recipients.filter(state=State.WAITING).update(
                state=State.FAILED, reason=f"The e-mail could not be sent ({reason})."
            )


def compose(campaign: Campaign, mailing: Mailing, recipients: list[Recipient]):
    """The e-mail: who asks, why, each instance with its link and expiry; nothing secret."""
    organization = settings.CONSENT_ORGANIZATION_NAME
    reauthorize = campaign.purpose == Campaign.Purpose.REAUTHORIZE
    context = {
        "organization": organization,
        "campaign": campaign,
        "name": mailing.name,
        "reminder": mailing.round,
        "reauthorize": reauthorize,
        "items": [
            {
                "name": r.instance.name,
                "url": r.link.get_absolute_url(),
                "expires": r.link.expires_at,
            }
            for r in recipients
        ],
    }
    # The provider's name when every account is of one element ("your 2 Box accounts").
    keys = {r.instance.element_key for r in recipients}
    provider = element_name(keys.pop()) if len(keys) == 1 else ""
    context["provider"] = provider
    verb = "reconnect" if reauthorize else "connect"
    accounts = f"{provider} account" if provider else "account"
    subject = f"{organization}: please {verb} your {accounts}"
    if len(recipients) > 1:
        subject = f"{organization}: please {verb} your {len(recipients)} {accounts}s"
    if mailing.round:
        subject = f"Reminder: {subject}"
    message = EmailMultiAlternatives(
        subject=subject,
        body=render_to_string("campaigns/email/consent.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[mailing.email],
        headers={"Auto-Submitted": "auto-generated"},
    )
    message.attach_alternative(
        render_to_string("campaigns/email/consent.html", context), "text/html"
    )
    return message
