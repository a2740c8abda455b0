"""Lost deliveries: the sweep reads Cloud Elements' account-wide event log (paged, newest first,
back to where it stopped last time) and finds events it NOTIFIED that the receiver never
stored; the instance has *deliveries missing here* until they arrive or age out."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from instances.cloud_elements import client as ce
from instances.events.models import EventNotification
from instances.forms import webhook_url
from instances.health import sweep
from instances.health.models import MissingDelivery, Problem, SweepMark
from instances.sandbox import delivery
from instances.sandbox.models import SandboxEvent, SandboxInstance
from tests.instances.lifecycle_helpers import live
from tests.sandbox_helpers import make_active


def _listening(make_instance, site_url: str, name: str):
    instance = make_active(make_instance, site_url, name, events=True)
    ce.update_instance(
        instance.remote_id,
        {"configuration": {"event.notification.callback.url": webhook_url(instance.uuid)}},
    )
    return instance


def _change(instance, path: str) -> None:
    sent = delivery.deliver_change(
        SandboxInstance.objects.get(pk=instance.remote_id), event_type="CREATED", path=path
    )
    assert sent.status_code == 200


@live
def test_a_notified_event_never_stored_here_is_a_problem_until_it_arrives(
    sandbox_site, settings, make_instance
):
    lossy = _listening(make_instance, sandbox_site.url, "Lossy")
    fine = _listening(make_instance, sandbox_site.url, "Fine")
    _change(lossy, "/a.pdf")
    _change(lossy, "/b.pdf")
    _change(fine, "/c.pdf")
    lost = lossy.events.order_by("pk").first()
    lost_key = lost.dedup_key
    lost.delete()  # stored, then lost here (a restore from backup, a bad purge...)
    # Cloud Elements' log says NOTIFIED for all three; the newest minutes are judged later.
    SandboxEvent.objects.update(event_date=timezone.now() - timedelta(minutes=10))

    sweep.sweep()

    problem = lossy.problems.get()
    assert problem.kind == Problem.Kind.MISSING and problem.is_open
    assert not fine.problems.exists()
    [missing] = MissingDelivery.objects.all()
    assert (missing.instance_id, missing.dedup_key) == (lossy.pk, lost_key)
    checked = SweepMark.objects.get().events_checked_until
    assert checked > timezone.now() - timedelta(minutes=3)

    # A later sweep reads only what is new in the log, and the problem stays while it is lost.
    sweep.sweep()
    assert lossy.problems.get().is_open and MissingDelivery.objects.count() == 1

    # Cloud Elements' retry gets through after all: the problem clears.
    EventNotification.objects.create(
        instance=lossy, dedup_key=lost_key, body="{}", signature="verified"
    )
    sweep.sweep()
    assert not MissingDelivery.objects.exists()
    assert lossy.problems.get().resolved_at is not None


@live
def test_an_unreadable_event_log_is_tried_again_next_time(
    sandbox_site, settings, make_instance, monkeypatch
):
    _listening(make_instance, sandbox_site.url, "Listening")

    def down(**kwargs):
        raise ce.CloudElementsServerError()

    monkeypatch.setattr(sweep.ce, "list_account_events", down)  # the fault, at the client
    sweep.sweep()
    assert SweepMark.objects.get().events_checked_until is None  # nothing skipped

    monkeypatch.undo()
    sweep.sweep()
    assert SweepMark.objects.get().events_checked_until is not None
