"""Demo data: fill the sandbox account as a real team's Cloud Elements account would look.

Several instances per customer (one per team or use), tags for the customer's plan and region,
some whose owner revoked access (invalid), some disabled, some sending events to the team's own
app, created over the last months. Deterministic for a given seed, so that a demo can be repeated.
"""

from __future__ import annotations

import random
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from instances.parameters import OAUTH2

from .models import SandboxEvent, SandboxInstance

CUSTOMERS = (
    "Acme", "Globex", "Initech", "Umbrella", "Hooli", "Stark Industries", "Wayne Enterprises",
    "Wonka", "Soylent", "Tyrell", "Cyberdyne", "Vandelay", "Pied Piper", "Dunder Mifflin",
    "Massive Dynamic", "Oscorp", "Aperture", "Black Mesa", "Monsters Inc", "Gringotts",
)  # fmt: skip
USES = ("Finance", "Legal", "Marketing", "Sales", "Support", "HR", "Engineering", "Design")
PLANS = ("enterprise", "growth", "starter")
REGIONS = ("eu", "us", "apac")
# The team's own app, where some instances were told to send their events.
THEIR_APP = "https://hooks.{customer}.example/cloud-elements/events"
APP_KEY = "sandbox-demo-app"
BATCH = 1_000


def seed(*, instances: int, events: int = 0, seed: int = 20) -> tuple[int, int]:
    """Add `instances` instances (and `events` events spread over them) to the sandbox."""
    rng = random.Random(seed)
    now = timezone.now()
    start = SandboxInstance.objects.count()
    made: list[SandboxInstance] = []
    for n in range(start, start + instances):
        made.append(_instance(rng, n, now))
        if len(made) == BATCH:
            SandboxInstance.objects.bulk_create(made)
            made = []
    if made:
        SandboxInstance.objects.bulk_create(made)
    if events:
        _events(rng, events, now)
    return instances, events


def _instance(rng: random.Random, n: int, now) -> SandboxInstance:
    customer = CUSTOMERS[n % len(CUSTOMERS)]
    use = USES[(n // len(CUSTOMERS)) % len(USES)]
    round_ = n // (len(CUSTOMERS) * len(USES))
    name = f"{customer} {use}" + (f" {round_ + 1}" if round_ else "")
    slug = customer.lower().replace(" ", "-")
    configuration: dict[str, object] = {
        "authentication.type": OAUTH2,
        "oauth.api.key": APP_KEY,
        "oauth.api.secret": f"demo-secret-{rng.getrandbits(64):016x}",
        "oauth.callback.url": settings.SITE_URL + "/instances/oauth/callback/",
        "event.notification.enabled": False,
    }
    if rng.random() < 0.15:
        configuration["event.notification.enabled"] = True
        configuration["event.notification.callback.url"] = THEIR_APP.format(customer=slug)
        configuration["event.notification.signature.key"] = f"their-key-{rng.getrandbits(64):x}"
    instance = SandboxInstance(
        element_key="dropbox",
        name=name,
        token=SandboxInstance.new_token(),
        tags=[f"customer:{slug}", rng.choice(PLANS), rng.choice(REGIONS)],
        valid=rng.random() >= 0.05,
        disabled=rng.random() < 0.03,
        created_date=now - timedelta(days=rng.randint(0, 180), minutes=rng.randint(0, 1439)),
    )
    instance.set_configuration(configuration)
    return instance


def _events(rng: random.Random, count: int, now) -> None:
    ids = list(SandboxInstance.objects.values_list("id", flat=True))
    if not ids:
        return
    batch: list[SandboxEvent] = []
    for n in range(count):
        when = now - timedelta(minutes=rng.randint(0, 30 * 24 * 60))
        event_type = rng.choice(("CREATED", "UPDATED", "DELETED"))
        path = f"/Shared/{rng.choice(USES)}/file-{n}.pdf"
        batch.append(
            SandboxEvent(
                instance_id=rng.choice(ids),
                event_date=when,
                status=SandboxEvent.NOTIFIED,
                provider_data={"delta": {"users": [n]}},
                notified_data={
                    "message": {
                        "eventId": f"seed-{n}",
                        "events": [{"eventType": event_type, "objectId": path}],
                    }
                },
            )
        )
        if len(batch) == BATCH:
            SandboxEvent.objects.bulk_create(batch)
            batch = []
    if batch:
        SandboxEvent.objects.bulk_create(batch)
