"""`/api/v1/instances` over real HTTP: the list (the dashboard's filters, keyset pages, the
count), one instance, and each change, checked against the sandbox standing in for Cloud
Elements (read back through its API) and the local rows."""

from __future__ import annotations

import socket
from datetime import timedelta

from django.utils import timezone

from instances.cloud_elements import client as ce
from instances.models import AuditEntry, ElementInstance
from tests.api.conftest import live, ok, refused
from tests.job_helpers import sandboxed
from tests.sandbox_helpers import make_active

Status = ElementInstance.Status
Action = AuditEntry.Action


def closed_port_url() -> str:
    """An address where nothing listens: any call sent there fails at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/elements/api-v2"


# --- The list ---------------------------------------------------------------------------------


@live
def test_the_list_filters_as_the_dashboard_does(alice, make_instance):
    make_instance("Finance Dropbox", tags=["finance"], status=Status.ACTIVE)
    make_instance("Finance draft", tags=["Finance", "eu"])
    owned = make_instance("Sales Dropbox", status=Status.ACTIVE)
    owned.owner_name, owned.owner_email = "Olive Owner", "olive@example.com"
    owned.save()
    make_instance("Gone", status=Status.DELETED, tags=["finance"])

    def names(**params) -> list[str]:
        body = ok(alice.get("/instances", params=params))
        assert body["matching"] == len(body["items"]) and body["matching_exact"] is True
        assert body["next_cursor"] is None
        return [item["name"] for item in body["items"]]

    # Newest first; a deleted instance only when asked for.
    assert names() == ["Sales Dropbox", "Finance draft", "Finance Dropbox"]
    assert names(status="active") == ["Sales Dropbox", "Finance Dropbox"]
    assert names(status="deleted") == ["Gone"]
    assert names(tag="FINANCE") == ["Finance draft", "Finance Dropbox"]
    assert names(tag="finance", status="draft") == ["Finance draft"]
    assert names(q="dropbox") == ["Sales Dropbox", "Finance Dropbox"]
    assert names(q="olive") == ["Sales Dropbox"]
    assert names(owner="yes") == ["Sales Dropbox"]
    assert names(owner="no") == ["Finance draft", "Finance Dropbox"]
    assert names(q="nothing like it") == []


@live
def test_an_item_says_what_the_dashboard_shows(alice, make_instance, sandbox_site):
    instance = make_instance("Shown", tags=["b", "a"], status=Status.ACTIVE, remote_id=4242)
    instance.owner_name, instance.owner_email = "Ann", "ann@example.com"
    instance.save()
    webhook = instance.webhook
    webhook.enabled, webhook.callback_url = True, "https://hooks.example.com/in/"
    webhook.signature_key = "a-very-secret-signing-key-9876"
    webhook.save()

    [item] = ok(alice.get("/instances"))["items"]

    assert item["uuid"] == str(instance.uuid)
    assert (item["name"], item["status"], item["cloud_elements_id"]) == ("Shown", "active", 4242)
    assert item["tags"] == ["a", "b"]
    assert item["owner"] == {"name": "Ann", "email": "ann@example.com"}
    assert item["events"]["enabled"] is True
    assert item["events"]["callback_url"] == "https://hooks.example.com/in/"
    # The key is masked: never the secret itself.
    assert "a-very-secret-signing-key" not in str(item)
    assert item["events"]["signature_key"].endswith("9876")
    assert item["url"] == sandbox_site.url + instance.get_absolute_url()
    assert ok(alice.get(f"/instances/{instance.uuid}")) == item


@live
def test_three_pages_list_every_row_once_even_when_rows_share_a_time(alice, make_instance):
    rows = [make_instance(f"Paged {n}", tags=["paged"]) for n in range(8)]
    make_instance("Not paged")
    # Five rows created at the same moment: the id settles their order, across page borders.
    same = timezone.now() - timedelta(hours=1)
    ElementInstance.objects.filter(pk__in=[r.pk for r in rows[1:6]]).update(created_at=same)
    expected = list(
        ElementInstance.objects.filter(pk__in=[r.pk for r in rows])
        .order_by("-created_at", "-id")
        .values_list("uuid", flat=True)
    )

    seen, cursor, pages = [], "", 0
    while True:
        params = {"tag": "paged", "limit": 3, **({"cursor": cursor} if cursor else {})}
        body = ok(alice.get("/instances", params=params))
        pages += 1
        assert body["matching"] == 8 and body["matching_exact"] is True
        assert len(body["items"]) == (3 if body["next_cursor"] else 2)
        seen += [item["uuid"] for item in body["items"]]
        cursor = body["next_cursor"]
        if not cursor:
            break
        assert pages < 5

    assert pages == 3
    assert seen == [str(u) for u in expected]
    assert len(set(seen)) == 8


@live
def test_a_page_exactly_full_has_no_next_cursor(alice, make_instance):
    for n in range(4):
        make_instance(f"Row {n}")
    first = ok(alice.get("/instances", params={"limit": 2}))
    second = ok(alice.get("/instances", params={"limit": 2, "cursor": first["next_cursor"]}))
    assert [i["name"] for i in first["items"] + second["items"]] == [
        "Row 3",
        "Row 2",
        "Row 1",
        "Row 0",
    ]
    assert second["next_cursor"] is None


# --- One instance -------------------------------------------------------------------------------


@live
def test_read_one_instance(alice, make_instance):
    instance = make_instance("Read me", tags=["x"])
    body = ok(alice.get(f"/instances/{instance.uuid}"))
    assert (body["uuid"], body["name"], body["status"], body["tags"]) == (
        str(instance.uuid),
        "Read me",
        "draft",
        ["x"],
    )
    assert body["owner"] is None and body["cloud_elements_id"] is None


# --- Changing ---------------------------------------------------------------------------------


@live
def test_changing_only_the_owner_sends_nothing_to_cloud_elements(
    alice, make_instance, sandbox_site, settings, operator
):
    instance = make_active(make_instance, sandbox_site.url, "Owned")
    # Any call to Cloud Elements would now fail (502): the owner is kept here only.
    settings.CLOUD_ELEMENTS_BASE_URL = closed_port_url()

    body = ok(
        alice.patch(
            f"/instances/{instance.uuid}",
            json={"owner_name": "Ola Owner", "owner_email": "Ola@Example.com"},
        )
    )

    assert body["owner"] == {"name": "Ola Owner", "email": "ola@example.com"}
    instance.refresh_from_db()
    assert (instance.owner_name, instance.owner_email) == ("Ola Owner", "ola@example.com")
    actions = list(instance.audit_entries.values_list("action", flat=True))
    assert Action.OWNER_CHANGED in actions
    assert Action.REMOTE_ERROR not in actions and Action.UPDATED not in actions
    entry = instance.audit_entries.get(action=Action.OWNER_CHANGED)
    assert entry.actor == operator


@live
def test_changing_only_the_owner_of_an_instance_without_a_callback_url(
    alice, make_instance, sandbox_site
):
    """The owner is kept here, and fields left out keep their value: a callback URL the client
    did not send must not refuse the change. An active instance that never had events (or an
    imported one, or a draft) has none."""
    [instance] = sandboxed(make_instance, sandbox_site.url, 1, prefix="No events yet")
    assert instance.webhook.callback_url == ""

    response = alice.patch(
        f"/instances/{instance.uuid}",
        json={"owner_name": "Ola Owner", "owner_email": "ola@example.com"},
    )

    body = ok(response)
    assert body["owner"] == {"name": "Ola Owner", "email": "ola@example.com"}
    instance.refresh_from_db()
    assert instance.owner_email == "ola@example.com"


@live
def test_name_and_tags_are_sent_to_cloud_elements_and_read_back(alice, make_instance, sandbox_site):
    instance = make_active(make_instance, sandbox_site.url, "Before", tags=["old"])

    body = ok(
        alice.patch(
            f"/instances/{instance.uuid}",
            json={"name": "After", "tags": ["finance", "EU team"]},
        )
    )

    remote = ce.get_instance(instance.remote_id)
    assert remote.name == "After"
    assert sorted(remote.tags) == ["EU team", "finance"]
    assert body["name"] == "After" and body["tags"] == ["EU team", "finance"]
    instance.refresh_from_db()
    assert instance.name == "After"
    assert sorted(instance.tag_names()) == ["EU team", "finance"]
    assert instance.audit_entries.filter(action=Action.UPDATED).count() == 1
    # Left out: kept (the callback URL was sent unchanged).
    assert body["events"]["callback_url"] == f"{sandbox_site.url}/webhooks/{instance.uuid}/"


@live
def test_a_bad_callback_url_is_refused_field_by_field_and_nothing_is_sent(
    alice, make_instance, sandbox_site
):
    instance = make_active(make_instance, sandbox_site.url, "Kept")

    body = refused(
        alice.patch(
            f"/instances/{instance.uuid}",
            json={"name": "Not sent", "event_callback_url": "http://example.com/hook"},
        ),
        400,
    )

    assert list(body["errors"]) == ["event_callback_url"]
    assert "Plain http://" in body["errors"]["event_callback_url"][0]
    assert ce.get_instance(instance.remote_id).name == "Kept"
    instance.refresh_from_db()
    assert instance.name == "Kept"
    assert not instance.audit_entries.filter(action=Action.UPDATED).exists()


@live
def test_a_too_long_signature_key_is_refused_under_its_api_name(alice, make_instance, sandbox_site):
    instance = make_active(make_instance, sandbox_site.url, "Keyed")
    body = refused(
        alice.patch(f"/instances/{instance.uuid}", json={"signature_key": "k" * 201}), 400
    )
    assert list(body["errors"]) == ["signature_key"]


@live
def test_events_on_for_an_active_instance(alice, make_instance, sandbox_site):
    instance = make_active(make_instance, sandbox_site.url, "Eventful")
    assert ce.get_instance(instance.remote_id).events_enabled is False

    body = ok(alice.put(f"/instances/{instance.uuid}/events-enabled", json={"enabled": True}))

    assert body["events"]["enabled"] is True
    assert ce.get_instance(instance.remote_id).events_enabled is True
    instance.webhook.refresh_from_db()
    assert instance.webhook.enabled is True
    assert instance.audit_entries.filter(action=Action.EVENTS_ENABLED).count() == 1

    body = ok(alice.put(f"/instances/{instance.uuid}/events-enabled", json={"enabled": False}))
    assert body["events"]["enabled"] is False
    assert ce.get_instance(instance.remote_id).events_enabled is False


@live
def test_disable_then_enable(alice, make_instance, sandbox_site):
    [instance] = sandboxed(make_instance, sandbox_site.url, 1, prefix="Switch")

    body = ok(alice.post(f"/instances/{instance.uuid}/disable"))
    assert body["disabled_at_cloud_elements"] is True
    assert ce.get_instance(instance.remote_id).disabled is True

    body = ok(alice.post(f"/instances/{instance.uuid}/enable"))
    assert body["disabled_at_cloud_elements"] is False
    assert ce.get_instance(instance.remote_id).disabled is False
    assert list(
        instance.audit_entries.filter(action__in=[Action.DISABLED, Action.ENABLED])
        .order_by("pk")
        .values_list("action", flat=True)
    ) == [Action.DISABLED, Action.ENABLED]


@live
def test_sync_reads_what_cloud_elements_holds(alice, make_instance, sandbox_site):
    [instance] = sandboxed(make_instance, sandbox_site.url, 1, prefix="Synced")
    ce.update_instance(instance.remote_id, {"name": "Renamed there", "tags": ["remote-tag"]})

    body = ok(alice.post(f"/instances/{instance.uuid}/sync"))

    assert body["name"] == "Renamed there" and body["tags"] == ["remote-tag"]
    instance.refresh_from_db()
    assert instance.name == "Renamed there" and instance.synced_at is not None
    assert instance.audit_entries.filter(action=Action.SYNCED, outcome="success").exists()


@live
def test_sync_of_an_instance_cloud_elements_no_longer_has_flags_it(alice, make_instance):
    gone = make_instance("Gone there", status=Status.ACTIVE, remote_id=987654)

    body = ok(alice.post(f"/instances/{gone.uuid}/sync"))

    assert body["deleted_at_cloud_elements"] is True
    assert "no instance 987654" in body["last_error"]
    assert body["status"] == "active"


@live
def test_delete_at_cloud_elements_then_here(alice, make_instance, sandbox_site):
    [instance] = sandboxed(make_instance, sandbox_site.url, 1, prefix="Doomed")

    body = ok(alice.delete(f"/instances/{instance.uuid}"))

    assert body["status"] == "deleted" and body["events"]["enabled"] is False
    try:
        ce.get_instance(instance.remote_id)
    except ce.CloudElementsNotFoundError:
        pass
    else:
        raise AssertionError("the sandbox still has the instance")
    entry = instance.audit_entries.get(action=Action.DELETED)
    assert entry.detail == f"Deleted Cloud Elements instance {instance.remote_id}."
    # Kept here with its history; listed only when asked for.
    assert ok(alice.get("/instances"))["items"] == []
    assert [i["uuid"] for i in ok(alice.get("/instances?status=deleted"))["items"]] == [
        str(instance.uuid)
    ]
