"""A campaign's job: one consent link per chosen instance, then the first e-mail to each owner.

Instances are taken in batches of BATCH by id; what a batch makes (links, the mailings of its
owners, the recipient rows, the counts and the job's cursor) commits at once, so that a worker
that died is resumed after the last batch it finished and nothing is made twice.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from instances import consent, forms, parameters
from instances.campaigns import mail
from instances.campaigns.models import Campaign, Mailing, Recipient
from instances.jobs import engine
from instances.jobs.models import Job
from instances.links import services as links
from instances.links import signals
from instances.models import ElementInstance

logger = logging.getLogger(__name__)
State = Recipient.State
Status = ElementInstance.Status
BATCH = 500
FIELDS = ("pk", "name", "status", "authentication_type", "remote_id", "owner_name", "owner_email")


class _Stop(Exception):
    """The job is no longer this worker's: roll the batch back."""


def candidates(campaign: Campaign):
    """The instances the campaign was started on, by id."""
    scope = campaign.scope
    if "ids" in scope:
        rows = ElementInstance.objects.filter(pk__in=scope["ids"])
    else:
        rows = forms.matching(scope.get("query", ""))
    return rows.order_by("pk")


def run_campaign(job: Job) -> str:
    campaign = Campaign.objects.get(job=job)
    last = int(job.cursor or 0)
    rows = candidates(campaign).only(*FIELDS)
    while campaign.is_open:
        batch = list(rows.filter(pk__gt=last)[:BATCH])
        if not batch:
            break
        try:
            revoked = _make_batch(job, campaign, batch)
        except _Stop:
            return "stopped"
        signals.send(signals.REVOKED, revoked)
        last = batch[-1].pk
        campaign.refresh_from_db(fields=["status"])
    if campaign.delivery == Campaign.Delivery.EMAIL and campaign.is_open:
        mail.send_due(campaign, keep_going=lambda: engine.keep_going(job))
    _started(campaign)
    Job.objects.filter(pk=job.pk, status=Job.Status.RUNNING, attempts=job.attempts).update(
        status=Job.Status.DONE, finished_at=timezone.now(), lease_expires_at=None
    )
    return "done"


def _started(campaign: Campaign) -> None:
    """Links made and the first e-mails out: reminders count from now."""
    now = timezone.now()
    days = sorted(campaign.reminder_days)
    Campaign.objects.filter(pk=campaign.pk, status=Campaign.Status.PREPARING).update(
        status=Campaign.Status.RUNNING,
        mailed_at=now,
        next_reminder_at=now + timedelta(days=days[0]) if days else None,
    )


def refusal(instance: ElementInstance, purpose: str) -> str:
    """Why this instance cannot be in a campaign of this purpose; "" when it can."""
    if instance.authentication_type != parameters.OAUTH2:
        return "An apiKey instance needs no consent."
    if purpose == Campaign.Purpose.REAUTHORIZE:
        if instance.status != Status.ACTIVE or instance.remote_id is None:
            return (
                f"It is {instance.get_status_display().lower()}: re-authorization is for active "
                "instances."
            )
        return ""
    if instance.status not in consent.WAITING:
        return (
            f"It is {instance.get_status_display().lower()}: a first consent is for drafts and "
            "failed creations."
        )
    return ""


def _make_batch(job: Job, campaign: Campaign, batch: list[ElementInstance]) -> list[int]:
    email = campaign.delivery == Campaign.Delivery.EMAIL
    recipients, eligible = [], []
    skipped = not_sent = 0
    for instance in batch:
        reason = refusal(instance, campaign.purpose)
        if reason:
            skipped += 1
            recipients.append(_row(campaign, instance, State.SKIPPED, reason))
        elif email and not instance.owner_email:
            not_sent += 1
            recipients.append(
                _row(campaign, instance, State.NOT_SENT, "No owner e-mail address; no link made.")
            )
        else:
            eligible.append(instance)
    try:
        with transaction.atomic():
            made = links.make_links(
                instances=eligible,
                purpose=campaign.purpose,
                expires_at=campaign.expires_at,
                note=f"campaign “{campaign.name}”",
                actor=job.created_by,
            )
            mailings = _mailings(campaign, eligible) if email else {}
            for instance, link in zip(eligible, made.links, strict=True):
                row = _row(campaign, instance, State.WAITING)
                row.link_id = link.pk
                row.mailing_id = mailings.get(instance.owner_email)
                recipients.append(row)
            Recipient.objects.bulk_create(recipients)
            Campaign.objects.filter(pk=campaign.pk).update(
                selected=F("selected") + len(batch),
                skipped=F("skipped") + skipped,
                not_sent=F("not_sent") + not_sent,
                links_made=F("links_made") + len(made.links),
            )
            counts = {"done": F("done") + len(batch), "skipped": F("skipped") + skipped}
            if not engine.keep_going(job, cursor=str(batch[-1].pk), **counts):
                raise _Stop
    except IntegrityError:
        # Another worker took the job over and made this batch: leave it to that one.
        raise _Stop from None
    return made.revoked


def _row(campaign: Campaign, instance: ElementInstance, state: str, reason: str = ""):
    return Recipient(campaign=campaign, instance=instance, state=state, reason=reason)


def _mailings(campaign: Campaign, instances: list[ElementInstance]) -> dict[str, int]:
    """The owners' mailings (one per address in the campaign): {address: mailing id}."""
    names = {}
    for instance in instances:
        names.setdefault(instance.owner_email, instance.owner_name)
    Mailing.objects.bulk_create(
        [Mailing(campaign=campaign, email=e, name=n) for e, n in names.items()],
        ignore_conflicts=True,
    )
    found = Mailing.objects.filter(campaign=campaign, email__in=list(names))
    return dict(found.values_list("email", "pk"))
