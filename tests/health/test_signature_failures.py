"""Refused signatures become a problem: the receiver counts what it refuses per instance and
hour, and the sweep opens *signature failures* past SIGNATURE_FAILURES_PER_HOUR in the last
hour, and resolves it once an hour passes without such a burst."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from instances.events.models import SignatureRefusal
from instances.health import sweep
from instances.health.models import Problem
from tests.events.receiver_helpers import KEY, OTHER_KEY, deliver, message_body, with_key

pytestmark = pytest.mark.django_db


def test_a_burst_of_refused_signatures_is_a_problem_until_it_stops(client, make_instance, settings):
    settings.SIGNATURE_FAILURES_PER_HOUR = 3
    instance = with_key(make_instance("Keyed", status="active", remote_id=1011), KEY)
    other = with_key(make_instance("Calm", status="active", remote_id=2022), KEY)

    for n in range(3):
        refused = deliver(client, instance, message_body(f"evt-{n}"), key=OTHER_KEY)
        assert refused.status_code == 401
    deliver(client, other, message_body("evt-x", instance_id=2022), key=OTHER_KEY)
    assert deliver(client, instance, message_body("evt-ok"), key=KEY).status_code == 200

    assert SignatureRefusal.objects.get(instance=instance).count == 3
    sweep.sweep()
    problem = instance.problems.get()
    assert problem.kind == Problem.Kind.SIGNATURES and problem.is_open
    assert not other.problems.exists()  # one refusal is not a burst

    SignatureRefusal.objects.update(hour=timezone.now() - timedelta(hours=3))
    sweep.sweep()
    problem.refresh_from_db()
    assert problem.resolved_at is not None
