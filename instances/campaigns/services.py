"""Starting, stopping and following re-consent campaigns (pages, admin and the schedule).

The work itself (links, e-mails) runs as a job (run.py, mail.py); the schedule's `tick` sends
retries that came due, starts reminder rounds and closes campaigns whose links expired.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import suppress
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, F, OuterRef
from django.utils import timezone

from instances import forms, search
from instances.campaigns import mail
from instances.campaigns.models import Campaign, Mailing, Recipient
from instances.jobs import services as jobs
from instances.jobs.models import Job
from instances.links import services as links
from instances.models import ElementInstance
from instances.services import ActionError

logger = logging.getLogger(__name__)
State = Recipient.State
# At most this many checked instances are carried in the campaign itself (a page's rows).
MAX_CHECKED = 10_000
MAX_REMINDERS = 5


def default_expiry() -> datetime:
    return timezone.now() + timedelta(days=settings.CONSENT_LINK_DAYS)


def start(
    *,
    name: str,
    purpose: str,
    message: str,
    delivery: str,
    expires_at: datetime,
    reminder_days: list[int],
    query: str = "",
    instance_ids: list[int] | None = None,
    actor,
) -> Campaign:
    """Record the campaign and queue its job (which makes the links, then the e-mails)."""
    if instance_ids is not None:
        ids = sorted(set(instance_ids))[:MAX_CHECKED]
        if not ids:
            raise ActionError("No instances were selected, so no campaign was started.")
        scope, total = {"ids": ids}, len(ids)
    else:
        total = search.count_matching(forms.matching(query)).count
        if not total:
            raise ActionError("No instance matches this filter, so no campaign was started.")
        scope = {"query": query, "words": forms.describe(query)}
    if expires_at <= timezone.now():
        raise ActionError("The expiry is in the past: choose a later one.")
    user = actor if getattr(actor, "is_authenticated", False) else None
    with transaction.atomic():
        job = Job.objects.create(
            kind=Job.Kind.CAMPAIGN,
            created_by=user,
            total=total,
            scope={k: v for k, v in scope.items() if k != "ids"},
            items_ready=False,
        )
        campaign = Campaign.objects.create(
            name=name,
            purpose=purpose,
            message=message,
            delivery=delivery,
            expires_at=expires_at,
            reminder_days=sorted(set(reminder_days))[:MAX_REMINDERS],
            scope=scope,
            job=job,
            created_by=user,
        )
        Job.objects.filter(pk=job.pk).update(summary={"campaign": campaign.pk})
        transaction.on_commit(lambda: jobs.enqueue(job))
    return campaign


def stop(*, campaign: Campaign, actor) -> int:
    """Stop: revoke the campaign's open links, send nothing more. Returns the links revoked."""
    user = actor if getattr(actor, "is_authenticated", False) else None
    stopped = Campaign.objects.filter(
        pk=campaign.pk, status__in=[Campaign.Status.PREPARING, Campaign.Status.RUNNING]
    ).update(status=Campaign.Status.STOPPED, stopped_at=timezone.now(), stopped_by=user)
    if not stopped:
        raise ActionError("This campaign is already over.")
    job = campaign.job
    if job is not None and job.status in (Job.Status.QUEUED, Job.Status.RUNNING):
        with suppress(jobs.JobError):  # it finished meanwhile
            jobs.cancel_job(job=job, actor=actor, campaign_stopped=True)
    Mailing.objects.filter(
        campaign=campaign, status__in=[Mailing.Status.DUE, Mailing.Status.RETRYING]
    ).update(status=Mailing.Status.NONE, next_try_at=None)
    revoked = 0
    open_rows = campaign.recipients.filter(state__in=Recipient.OPEN_STATES, link__isnull=False)
    last = 0
    while True:
        batch = list(
            open_rows.filter(pk__gt=last).order_by("pk").values_list("pk", "link_id")[:1000]
        )
        if not batch:
            break
        detail = f"Campaign “{campaign.name}” stopped."
        revoked += links.revoke_links(
            link_ids=[link for _, link in batch], actor=actor, detail=detail
        )
        last = batch[-1][0]
    campaign.refresh_from_db()
    return revoked


def tick(now: datetime | None = None) -> dict:
    """The schedule's work: due retries, reminder rounds, expiry. Returns what it did."""
    now = now or timezone.now()
    done = {"expired": 0, "reminded": 0, "sent": 0}
    for campaign in Campaign.objects.filter(status=Campaign.Status.RUNNING, expires_at__lte=now):
        done["expired"] += expire(campaign)
    due = Campaign.objects.filter(status=Campaign.Status.RUNNING, next_reminder_at__lte=now)
    for campaign in due:
        done["reminded"] += start_reminders(campaign, now=now)
    for campaign in Campaign.objects.filter(
        status=Campaign.Status.RUNNING, delivery=Campaign.Delivery.EMAIL
    ).filter(Exists(mail.due(campaign=OuterRef("pk")))):
        done["sent"] += mail.send_due(campaign)
    return done


def expire(campaign: Campaign) -> int:
    """The campaign's links expired: what was not completed counts as expired; it is over."""
    with transaction.atomic():
        moved = campaign.recipients.filter(state__in=Recipient.OPEN_STATES).update(
            state=State.EXPIRED
        )
        Campaign.objects.filter(pk=campaign.pk, status=Campaign.Status.RUNNING).update(
            status=Campaign.Status.FINISHED,
            expired=F("expired") + moved,
            next_reminder_at=None,
        )
        campaign.mailings.filter(status__in=[Mailing.Status.DUE, Mailing.Status.RETRYING]).update(
            status=Mailing.Status.NONE, next_try_at=None
        )
    return moved


def start_reminders(campaign: Campaign, *, now: datetime) -> int:
    """A reminder round: owners already written to who have an instance not completed yet."""
    round_number = campaign.reminders_done + 1
    waiting = Recipient.objects.filter(
        mailing=OuterRef("pk"),
        state__in=[State.SENT, State.OPENED, State.CONSENTED, State.REFUSED],
    )
    days = sorted(campaign.reminder_days)
    with transaction.atomic():
        claimed = Campaign.objects.filter(
            pk=campaign.pk, reminders_done=campaign.reminders_done, status=Campaign.Status.RUNNING
        ).update(
            reminders_done=round_number,
            next_reminder_at=(
                campaign.mailed_at + timedelta(days=days[round_number])
                if round_number < len(days) and campaign.mailed_at
                else None
            ),
        )
        if not claimed:
            return 0
        reminded = (
            campaign.mailings.filter(status=Mailing.Status.SENT)
            .filter(Exists(waiting))
            .update(status=Mailing.Status.DUE, round=round_number, attempts=0, next_try_at=None)
        )
    logger.info("Campaign %s: reminder %s to %s owners", campaign.pk, round_number, reminded)
    return reminded


def export_rows(campaign: Campaign) -> Iterator[list[str]]:
    """The CSV export: a header, then each instance with a link (instance, owner, link, expiry)."""
    yield [
        "instance",
        "cloud elements id",
        "owner name",
        "owner e-mail",
        "consent link",
        "expires at (UTC)",
        "state",
    ]
    rows = (
        campaign.recipients.filter(link__isnull=False)
        .select_related("instance", "link")
        .order_by("pk")
    )
    last = 0
    while True:
        batch = list(rows.filter(pk__gt=last)[:1000])
        if not batch:
            return
        for row in batch:
            instance, link = row.instance, row.link
            yield [
                _cell(instance.name),
                str(instance.remote_id or ""),
                _cell(instance.owner_name),
                _cell(instance.owner_email),
                link.get_absolute_url() if link.is_live else "",
                f"{link.expires_at:%Y-%m-%d %H:%M}",
                row.get_state_display(),
            ]
        last = batch[-1].pk


def _cell(value: str) -> str:
    """A spreadsheet reads a cell starting with = + - @ as a formula: keep it text."""
    return "'" + value if value[:1] in ("=", "+", "-", "@") else value


def rows_in(campaign: Campaign, state: str = ""):
    """The campaign's instances for its page, in order (filtered by state when given)."""
    rows = campaign.recipients.select_related("instance", "mailing").order_by("pk")
    return rows.filter(state=state) if state else rows


def instance_ids_for(uuids: list[str]) -> list[int]:
    return list(ElementInstance.objects.filter(uuid__in=uuids).values_list("pk", flat=True))
