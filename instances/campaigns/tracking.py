"""The funnel, kept as it happens: each consent link event moves its recipient and one counter.

Each step is counted once per instance (a second opening, or a refusal after a refusal, moves
nothing): the row's timestamp or state is the guard, in the same statement that sets it.
"""

from __future__ import annotations

from collections import defaultdict

from django.db import transaction
from django.db.models import Case, F, Value, When
from django.utils import timezone

from instances.campaigns.models import Campaign, Recipient
from instances.links import signals

State = Recipient.State
NOT_YET_OPENED = (State.WAITING, State.SENT, State.FAILED)
BEFORE_CONSENT = (*NOT_YET_OPENED, State.OPENED, State.REFUSED)

# event: (timestamp guarding the count, counter, new state, states it may move from)
STEPS = {
    signals.OPENED: ("opened_at", "opened", State.OPENED, NOT_YET_OPENED),
    signals.CONSENT_GIVEN: ("consented_at", "consent_given", State.CONSENTED, BEFORE_CONSENT),
    signals.REFUSED: ("refused_at", "refused", State.REFUSED, (*NOT_YET_OPENED, State.OPENED)),
    signals.COMPLETED: ("completed_at", "completed", State.COMPLETED, Recipient.OPEN_STATES),
    signals.EXPIRED: (None, "expired", State.EXPIRED, Recipient.OPEN_STATES),
    signals.REVOKED: (None, "revoked", State.REVOKED, Recipient.OPEN_STATES),
}


def on_link_event(sender, *, event: str, link_ids: list[int], **kwargs) -> None:
    if event not in STEPS:
        return
    stamp, counter, state, states = STEPS[event]
    rows = Recipient.objects.filter(link_id__in=link_ids)
    rows = rows.filter(**{f"{stamp}__isnull": True}) if stamp else rows.filter(state__in=states)
    by_campaign: dict[int, list[int]] = defaultdict(list)
    for pk, campaign_id in rows.values_list("pk", "campaign_id"):
        by_campaign[campaign_id].append(pk)
    now = timezone.now()
    for campaign_id, pks in by_campaign.items():
        advance(campaign_id, pks, stamp=stamp, counter=counter, state=state, states=states, at=now)


def advance(campaign_id: int, pks, *, stamp, counter, state, states, at) -> int:
    """Move these recipients (those not there yet) and count them; returns how many moved."""
    rows = Recipient.objects.filter(pk__in=pks)
    moved_state = Case(When(state__in=states, then=Value(state)), default=F("state"))
    with transaction.atomic():
        if stamp:
            moved = rows.filter(**{f"{stamp}__isnull": True}).update(
                **{stamp: at}, state=moved_state
            )
        else:
            moved = rows.filter(state__in=states).update(state=state)
        if moved:
            Campaign.objects.filter(pk=campaign_id).update(**{counter: F(counter) + moved})
    return moved
