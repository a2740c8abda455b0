"""Retention: `purge_events` deletes old deliveries in small batches, and their day counts."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from instances.events import ingest
from instances.events.models import EventDailyCount, EventNotification
from instances.models import ElementInstance
from tests.lib.test_configuration import manage

SERIAL = iter(range(10**6))


def store(instance, days_ago: float) -> None:
    ingest.store_delivery(
        instance_id=instance.pk,
        fields={
            "dedup_key": f"event:purge-{next(SERIAL)}",
            "remote_event_id": "",
            "webhook_id": "",
            "signature": EventNotification.Signature.UNSIGNED,
            "event_type": "CREATED",
            "object_type": "file",
            "object_id": "/a",
            "events": [],
            "body": "{}",
        },
        received_at=timezone.now() - timedelta(days=days_ago),
    )


@pytest.fixture
def instance(make_instance) -> ElementInstance:
    return make_instance("Retained", status=ElementInstance.Status.ACTIVE, remote_id=31)


def purge(**options) -> str:
    out = StringIO()
    call_command("purge_events", stdout=out, **options)
    return out.getvalue()


def test_events_past_the_retention_period_are_deleted_with_their_day_counts(
    instance, make_instance, settings
):
    settings.EVENT_RETENTION_DAYS = 10
    other = make_instance("Other", status=ElementInstance.Status.ACTIVE, remote_id=32)
    for days_ago in (30, 12, 11.5):
        store(instance, days_ago)
    store(other, 20)
    for days_ago in (9, 1, 0):
        store(instance, days_ago)

    output = purge()

    ages = sorted(
        (timezone.localdate() - timezone.localdate(e.received_at)).days
        for e in EventNotification.objects.all()
    )
    assert ages == [0, 1, 9]
    assert "Deleted 4 event notifications" in output
    kept_days = sorted(EventDailyCount.objects.values_list("day", flat=True))
    assert kept_days == sorted(
        {timezone.localdate(e.received_at) for e in EventNotification.objects.all()}
    )
    assert sum(EventDailyCount.objects.values_list("count", flat=True)) == 3


def test_the_purge_deletes_in_batches_of_the_given_size(instance, settings):
    settings.EVENT_RETENTION_DAYS = 5
    for _ in range(5):
        store(instance, 40)
    store(instance, 1)

    with CaptureQueriesContext(connection) as queries:
        purge(batch_size=2)

    deletes = [q["sql"] for q in queries.captured_queries if q["sql"].startswith("DELETE")]
    event_deletes = [sql for sql in deletes if "instances_eventnotification" in sql]
    assert len(event_deletes) == 3  # 2 + 2 + 1
    assert EventNotification.objects.count() == 1


def test_nothing_to_purge_says_so(instance):
    store(instance, 1)

    assert "Deleted 0 event notifications" in purge()
    assert EventNotification.objects.count() == 1


def test_a_batch_size_below_one_is_refused(instance):
    with pytest.raises(CommandError, match="at least 1"):
        purge(batch_size=0)


def test_a_retention_shorter_than_cloud_elements_retries_is_refused():
    result = manage("check", EVENT_RETENTION_DAYS="3")

    assert result.returncode != 0
    assert "EVENT_RETENTION_DAYS must be at least 4" in result.stderr


def test_the_default_retention_is_ninety_days(settings):
    result = manage(
        "shell", "-c", "from django.conf import settings; print(settings.EVENT_RETENTION_DAYS)"
    )

    assert result.stdout.strip().endswith("90")


def test_the_daily_schedule_purges_past_retention(instance, settings):
    from instances.jobs import schedules

    settings.EVENT_RETENTION_DAYS = 30
    store(instance, days_ago=40)
    store(instance, days_ago=1)

    assert schedules.purge_events_past_retention() == "purged 1 events and 1 daily counts"
    assert EventNotification.objects.filter(instance=instance).count() == 1
