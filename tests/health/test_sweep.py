"""The health sweep keeps each instance's problems current: found once with the time they began,
resolved when they clear, read only from instances changed since the last sweep (silence is a
matter of time), and counted for the attention page from the open problems only."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from instances.events.models import EventDailyCount
from instances.health import sweep
from instances.health.models import Problem, ProblemCount
from instances.models import ElementInstance, Tag

pytestmark = pytest.mark.django_db
Kind = Problem.Kind
ACTIVE = ElementInstance.Status.ACTIVE


def _open(instance) -> set[str]:
    return set(instance.problems.filter(resolved_at__isnull=True).values_list("kind", flat=True))


def test_each_flag_opens_a_problem_once_and_resolves_it(make_instance):
    broken = make_instance("Broken", status=ACTIVE, remote_id=1, remote_valid=False)
    fine = make_instance("Fine", status=ACTIVE, remote_id=2)
    draft = make_instance("Draft", remote_valid=False)  # not active: nothing to say

    first = sweep.sweep()

    assert _open(broken) == {Kind.INVALID} and _open(fine) == set() and _open(draft) == set()
    since = broken.problems.get().since
    assert first == {"opened": 1, "resolved": 0}
    assert sweep.sweep() == {"opened": 0, "resolved": 0}  # found once, not per sweep
    assert broken.problems.get().since == since

    broken.remote_valid = True
    broken.remote_disabled = True
    broken.drifted = True
    broken.save()
    sweep.sweep()

    assert _open(broken) == {Kind.DISABLED, Kind.DRIFTED}
    resolved = broken.problems.get(kind=Kind.INVALID)
    assert resolved.resolved_at is not None and resolved.since == since


def test_only_instances_changed_since_the_last_sweep_are_read(make_instance):
    sweep.sweep()
    stale = make_instance("Changed quietly", status=ACTIVE, remote_id=3)
    sweep.sweep()
    # A change whose updated_at is older than the last sweep is not read again (every code
    # path that changes an instance saves updated_at)...
    an_hour_ago = timezone.now() - timedelta(hours=1)
    ElementInstance.objects.filter(pk=stale.pk).update(remote_missing=True, updated_at=an_hour_ago)
    sweep.sweep()
    assert _open(stale) == set()
    # ...one that did is.
    ElementInstance.objects.filter(pk=stale.pk).update(updated_at=timezone.now())
    sweep.sweep()
    assert _open(stale) == {Kind.DELETED}


def test_an_instance_with_events_on_and_nothing_received_is_silent(make_instance, settings):
    settings.SILENT_AFTER_HOURS = 72
    old = timezone.now() - timedelta(days=10)
    quiet = make_instance("Quiet", status=ACTIVE, remote_id=4)
    talking = make_instance("Talking", status=ACTIVE, remote_id=5)
    off = make_instance("Events off", status=ACTIVE, remote_id=6)
    new = make_instance("Just made", status=ACTIVE, remote_id=7)
    ElementInstance.objects.filter(pk__in=[quiet.pk, talking.pk, off.pk]).update(created_at=old)
    for instance in (quiet, talking, new):
        instance.webhook.enabled = True
        instance.webhook.save()
    EventDailyCount.objects.create(
        instance=talking, day=timezone.localdate(), count=3, last_received_at=timezone.now()
    )
    EventDailyCount.objects.create(instance=quiet, day=old.date(), count=1, last_received_at=old)

    sweep.sweep()

    assert _open(quiet) == {Kind.SILENT}
    assert _open(talking) == _open(off) == _open(new) == set()
    # A delivery clears it at the next sweep.
    EventDailyCount.objects.create(
        instance=quiet, day=timezone.localdate(), count=1, last_received_at=timezone.now()
    )
    sweep.sweep()
    assert _open(quiet) == set()


def test_the_attention_page_reads_the_kept_counts(client, operator, make_instance):
    finance = Tag.for_names(["finance"])
    for n in range(3):
        instance = make_instance(
            f"Invalid {n}", status=ACTIVE, remote_id=10 + n, remote_valid=False
        )
        instance.tags.set(finance)
    make_instance("Switched off", status=ACTIVE, remote_id=20, remote_disabled=True)
    sweep.sweep()
    client.force_login(operator)

    page = client.get(reverse("health:attention"))

    assert page.status_code == 200
    html = page.text
    assert 'id="problem-invalid"' in html and ">3</span>" in html
    assert (
        "?problem=invalid&amp;tag=finance" in html
        and "?problem=invalid&amp;element=dropbox" in html
    )
    assert 'id="problem-disabled"' in html
    listed = client.get(reverse("instances:index"), {"problem": "invalid"}).text
    assert "Invalid 0" in listed and "Switched off" not in listed
    assert ProblemCount.objects.get(kind=Kind.INVALID, dimension="tag", value="finance").count == 3


def test_the_attention_page_costs_the_same_queries_at_any_size(
    client, operator, make_instance, django_assert_max_num_queries
):
    client.force_login(operator)
    for n in range(30):
        make_instance(f"Broken {n}", status=ACTIVE, remote_id=100 + n, remote_valid=False)
    sweep.sweep()
    # The re-authorization count: an EXPLAIN on PostgreSQL, then a COUNT of at most 1,001 rows.
    with django_assert_max_num_queries(10):
        response = client.get(reverse("health:attention"))
    assert response.status_code == 200
    # The active instances needing re-authorization, offered to a re-consent campaign.
    assert "30 active instances need re-authorization" in response.text
    assert "Start a re-consent campaign" in response.text


def test_acknowledging_takes_a_problem_out_of_the_counts_not_off_the_page(
    client, operator, make_instance
):
    broken = make_instance("Broken", status=ACTIVE, remote_id=30, remote_valid=False)
    sweep.sweep()
    problem = broken.problems.get()
    client.force_login(operator)
    url = reverse("health:acknowledge", args=[problem.pk])

    refused = client.post(url, {"reason": ""}, follow=True)
    assert "Not acknowledged: say why." in refused.text
    past = client.post(url, {"reason": "x", "until": "2001-01-01"}, follow=True)
    assert "the date is in the past" in past.text
    until = timezone.localdate() + timedelta(days=7)
    client.post(url, {"reason": "Owner on holiday", "until": until.isoformat()})

    problem.refresh_from_db()
    assert problem.acknowledged_reason == "Owner on holiday" and problem.acknowledged_until == until
    assert not ProblemCount.objects.exists()
    assert 'id="all-well"' in client.get(reverse("health:attention")).text
    page = client.get(broken.get_absolute_url()).text
    assert 'id="problems"' in page and "Acknowledged by alice" in page
    # Past its date it counts again.
    Problem.objects.filter(pk=problem.pk).update(
        acknowledged_until=timezone.localdate() - timedelta(days=1)
    )
    sweep.recount()
    assert ProblemCount.objects.get(kind=Kind.INVALID, dimension="all").count == 1


def test_an_instance_may_have_a_quiet_period_of_its_own(client, operator, make_instance, settings):
    settings.SILENT_AFTER_HOURS = 72
    weekly = make_instance("Weekly reports", status=ACTIVE, remote_id=40)
    ElementInstance.objects.filter(pk=weekly.pk).update(
        created_at=timezone.now() - timedelta(days=4)
    )
    weekly.webhook.enabled = True
    weekly.webhook.save()
    client.force_login(operator)

    refused = client.post(reverse("health:quiet_period", args=[weekly.uuid]), {"hours": "0"})
    assert refused.status_code == 302 and weekly.webhook.quiet_hours is None
    client.post(reverse("health:quiet_period", args=[weekly.uuid]), {"hours": "168"})
    sweep.sweep()
    assert _open(weekly) == set()  # four days quiet, a week allowed

    client.post(reverse("health:quiet_period", args=[weekly.uuid]), {"hours": ""})
    sweep.sweep()
    assert _open(weekly) == {Kind.SILENT}  # back to the default 72 hours
    assert "72 hours (the default)" in client.get(weekly.get_absolute_url()).text
