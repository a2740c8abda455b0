"""sandbox_seed fills the sandbox account as a real one looks: several instances per customer,
tags, some invalid, some disabled, some sending events to the team's app, created over months."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from instances.sandbox.models import SandboxEvent, SandboxInstance


@pytest.mark.django_db
def test_seed_makes_a_realistic_account():
    out = io.StringIO()
    call_command("sandbox_seed", "--instances", "300", "--events", "50", stdout=out)

    assert "300 more instances and 50 more events" in out.getvalue()
    rows = list(SandboxInstance.objects.all())
    assert len(rows) == 300 and SandboxEvent.objects.count() == 50
    acme = [row for row in rows if row.name.startswith("Acme ")]
    assert len(acme) > 5 and len({row.name for row in rows}) == 300
    assert all(any(tag.startswith("customer:") for tag in row.tags) for row in rows)
    assert 0 < sum(not row.valid for row in rows) < 60
    assert 0 < sum(row.disabled for row in rows) < 40
    elsewhere = [row for row in rows if row.events_enabled]
    assert elsewhere and all(
        ".example/cloud-elements/events"
        in row.full_configuration()["event.notification.callback.url"]
        for row in elsewhere
    )
    ages = {(timezone.now() - row.created_date).days for row in rows}
    assert max(ages) > 30 and min(ages) < 30


@pytest.mark.django_db
def test_seed_refuses_a_negative_count():
    with pytest.raises(CommandError, match="0 or more"):
        call_command("sandbox_seed", "--instances", "-1")
