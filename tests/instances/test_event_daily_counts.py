"""Events are counted per instance and day as they are received, so that no page counts them.

Each delivery is counted once on its day (a redelivery is not), the last event time never goes
back when an event is stored late, and the instance list and the instance page's chart read
these counts (issue 11).
"""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from instances.events.models import EventDailyCount
from tests.instances.scale_helpers import ACTIVE, INDEX, body, deliver, store


def test_each_delivery_is_counted_once_on_its_day(client, receiver_instance):
    for event_id in ["a", "b", "a", "c", "b"]:
        assert deliver(client, receiver_instance, body(event_id)).status_code == 200

    day = EventDailyCount.objects.get(instance=receiver_instance)
    assert day.day == timezone.localdate()
    assert day.count == 3 == receiver_instance.events.count()
    assert day.last_received_at == receiver_instance.events.latest("received_at").received_at


def test_the_last_event_time_never_goes_back(make_instance):
    instance = make_instance("Late", status=ACTIVE, remote_id=9)
    # Noon, local time: "five minutes earlier" stays on the same day whenever the test runs.
    now = timezone.localtime().replace(hour=12, minute=0, second=0, microsecond=0)
    store(instance, 1, received_at=now)
    store(instance, 2, received_at=now - timedelta(minutes=5))  # stored late, received earlier
    store(instance, 3, received_at=now - timedelta(days=1))

    rows = {row.day: row for row in EventDailyCount.objects.filter(instance=instance)}
    assert rows[timezone.localdate(now)].count == 2
    assert rows[timezone.localdate(now)].last_received_at == now
    assert rows[timezone.localdate(now - timedelta(days=1))].count == 1


def test_the_list_and_the_chart_read_the_counts(client, operator, receiver_instance):
    client.force_login(operator)
    for event_id in ["x", "y", "x"]:
        deliver(client, receiver_instance, body(event_id))

    listing = client.get(INDEX)
    page = client.get(receiver_instance.get_absolute_url()).content.decode()

    [row] = [i for i in listing.context["page_obj"] if i.pk == receiver_instance.pk]
    assert row.last_event_at == receiver_instance.events.latest("received_at").received_at
    assert "(2 in all)" in page
    today = timezone.localdate()
    assert f"<title>{today:%a} {today.day} {today:%b}: 2</title>" in page
