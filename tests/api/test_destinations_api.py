"""`/api/v1/destinations`: make, read, change, pause, resume, replay and delete a forwarding
destination, read its secret; resend one event; each event says how it was forwarded. The
dashboard's form rules answer bad input with per-field errors."""

from __future__ import annotations

from django.contrib.auth.models import Permission

from instances.events.models import EventNotification
from instances.forwarding.models import Delivery, Destination
from instances.jobs import engine
from instances.jobs.models import Job
from tests.api.conftest import bearer, live, ok, refused


def _event(instance, n: int = 1) -> EventNotification:
    return EventNotification.objects.create(
        instance=instance,
        dedup_key=f"event:api-{n}",
        signature=EventNotification.Signature.VERIFIED,
        event_type="CREATED",
        events=[{"eventType": "CREATED", "objectType": "file", "objectId": f"/{n}.txt"}],
        body="{}",
    )


@live
def test_make_read_change_and_delete_a_destination(alice, make_instance, operator):
    chosen = make_instance("Finance Dropbox", remote_id=55)
    made = ok(
        alice.post(
            "/destinations",
            json={
                "name": "Our app",
                "url": "https://app.example.com/hooks/ce",
                "tags": ["Finance"],
                "event_types": ["created"],
                "instances": ["55"],
            },
        ),
        201,
    )
    destination = Destination.objects.get()
    assert made["id"] == destination.pk and made["state"] == "active"
    assert (made["tags"], made["event_types"]) == (["finance"], ["CREATED"])
    assert made["instances"] == [str(chosen.uuid)] and made["max_in_flight"] == 10
    assert "signing_secret" not in made and destination.created_by == operator

    assert ok(alice.get(f"/destinations/{destination.pk}")) == made
    assert [row["id"] for row in ok(alice.get("/destinations"))["items"]] == [destination.pk]

    changed = ok(alice.patch(f"/destinations/{destination.pk}", json={"max_in_flight": 3}))
    assert changed["max_in_flight"] == 3 and changed["tags"] == ["finance"]
    assert changed["instances"] == [str(chosen.uuid)]
    cleared = ok(alice.patch(f"/destinations/{destination.pk}", json={"instances": []}))
    assert cleared["instances"] == []

    secret = ok(alice.get(f"/destinations/{destination.pk}/secret"))
    assert secret["signing_secret"] == destination.signing_secret
    assert secret["previous_signing_secret"] is None

    assert ok(alice.delete(f"/destinations/{destination.pk}"))["deleted_at"]
    refused(alice.get(f"/destinations/{destination.pk}"), 404)
    assert ok(alice.get("/destinations")) == {"items": []}


@live
def test_bad_settings_are_refused_per_field(alice):
    errors = refused(
        alice.post(
            "/destinations",
            json={"name": "X", "url": "http://example.com/h", "instances": ["nobody"]},
        ),
        400,
    )["errors"]
    assert "Plain http:// is for this machine only" in errors["url"][0]
    assert "No such instance" in errors["instances"][0]
    assert refused(alice.post("/destinations", json={"name": "X", "urll": "x"}), 400)
    assert refused(alice.patch("/destinations/999", json={"name": "Y"}), 404)
    assert not Destination.objects.exists()


@live
def test_pause_resume_replay_and_resend(alice, make_instance):
    instance = make_instance("Ops Dropbox")
    destination = Destination.objects.create(name="App", url="https://app.example.com/h")
    event = _event(instance)

    assert ok(alice.post(f"/destinations/{destination.pk}/pause"))["state"] == "paused"
    destination.refresh_from_db()
    assert "(API)" in destination.paused_reason
    assert ok(alice.post(f"/destinations/{destination.pk}/resume"))["state"] == "active"

    job = ok(
        alice.post(
            f"/destinations/{destination.pk}/replay",
            json={"since": "2000-01-01T00:00:00Z", "until": "2100-01-01T00:00:00Z"},
        ),
        202,
    )
    assert job["kind"] == "replay"
    assert engine.run_job(job["id"]) == "done"
    assert Job.objects.get(pk=job["id"]).summary == {"queued": 1}
    delivery = Delivery.objects.get()
    assert (delivery.event_id, delivery.state) == (event.pk, "pending")
    backwards = refused(
        alice.post(
            f"/destinations/{destination.pk}/replay",
            json={"since": "2100-01-01T00:00:00Z", "until": "2000-01-01T00:00:00Z"},
        ),
        400,
    )
    assert "must be before" in str(backwards)

    Delivery.objects.filter(pk=delivery.pk).update(state="failed")
    resent = ok(
        alice.post(
            f"/instances/{instance.uuid}/events/{event.pk}/resend",
            json={"destination": destination.pk},
        ),
        202,
    )
    assert resent["state"] == "pending" and resent["event"] == event.pk
    listed = ok(alice.get(f"/instances/{instance.uuid}/events"))["items"]
    assert listed[0]["forwarding"] == {"pending": 1}
    refused(
        alice.post(
            f"/instances/{instance.uuid}/events/{event.pk + 1}/resend",
            json={"destination": destination.pk},
        ),
        404,
    )


@live
def test_tokens_need_the_scope_and_the_permission(api, viewer, operator):
    destination = Destination.objects.create(name="App", url="https://app.example.com/h")
    reader = api(bearer(operator, "read"))
    assert ok(reader.get("/destinations"))["items"][0]["id"] == destination.pk
    refused(reader.get(f"/destinations/{destination.pk}/secret"), 403)
    refused(reader.post(f"/destinations/{destination.pk}/pause"), 403)

    viewer.user_permissions.add(Permission.objects.get(codename="view_elementinstance"))
    instance_viewer = api(bearer(viewer, "read", "write"))
    refused(instance_viewer.get("/destinations"), 403)
    refused(instance_viewer.post("/destinations", json={"name": "X", "url": "https://a.b/"}), 403)
