"""What happens to consent links, for whoever keeps count (the campaigns).

`link_event` is sent with `event` (one of EVENTS) and `link_ids`, after the change is saved.
"""

from __future__ import annotations

from django.dispatch import Signal

OPENED = "opened"
CONSENT_GIVEN = "consent_given"
REFUSED = "refused"
COMPLETED = "completed"
EXPIRED = "expired"
REVOKED = "revoked"
EVENTS = (OPENED, CONSENT_GIVEN, REFUSED, COMPLETED, EXPIRED, REVOKED)

link_event = Signal()


def send(event: str, link_ids: list[int]) -> None:
    if link_ids:
        link_event.send(sender=None, event=event, link_ids=link_ids)
