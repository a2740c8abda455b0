"""Drift: names, tags or event settings changed at Cloud Elements outside the dashboard are
shown as a difference, never taken or overwritten silently; the operator takes Cloud Elements'
values or sends ours."""

from __future__ import annotations

from django.urls import reverse

from instances.cloud_elements import client as ce
from instances.jobs.models import Job
from instances.models import AuditEntry
from instances.sandbox.models import SandboxInstance
from tests.imports.scan_helpers import local, run_scan
from tests.instances.lifecycle_helpers import live, shown_messages
from tests.sandbox_helpers import create_remote


def _changed_there(site_url: str):
    """An imported instance, then renamed, retagged and given events at Cloud Elements."""
    remote = create_remote(site_url, "Finance Dropbox", tags=["finance"])
    run_scan()
    ce.update_instance(
        remote.id,
        {
            "name": "Finance (renamed by a script)",
            "tags": ["finance", "eu"],
            "configuration": {
                "event.notification.enabled": True,
                "event.notification.callback.url": "https://their-app.example/hooks",
            },
        },
    )
    job = run_scan(Job.Kind.DISCOVER)
    assert job.summary["changed"] == 1
    return remote


@live
def test_a_change_at_cloud_elements_is_shown_not_taken(sandbox_site, settings, client, operator):
    remote = _changed_there(sandbox_site.url)

    row = local(remote.id)
    assert row.drifted
    assert row.name == "Finance Dropbox" and row.tag_names() == ["finance"]  # unchanged here
    assert row.webhook.enabled is False
    assert row.remote_snapshot["name"] == "Finance (renamed by a script)"
    drifted = row.audit_entries.get(action=AuditEntry.Action.DRIFTED)
    assert drifted.detail == "Changed at Cloud Elements: name, tags, events, events go to."
    client.force_login(operator)
    page = client.get(row.get_absolute_url()).text
    assert 'id="drift"' in page
    assert "Finance (renamed by a script)" in page and "https://their-app.example/hooks" in page
    listed = client.get(reverse("instances:index"), {"remote": "drifted"}).text
    assert "Finance Dropbox" in listed and "changed there" in listed
    # A second scan finds nothing new to say (one audit entry per change, not per scan).
    run_scan(Job.Kind.DISCOVER)
    assert row.audit_entries.filter(action=AuditEntry.Action.DRIFTED).count() == 1


@live
def test_take_cloud_elements_values(sandbox_site, settings, client, operator):
    remote = _changed_there(sandbox_site.url)
    client.force_login(operator)

    client.post(reverse("instances:sync", args=[local(remote.id).uuid]))

    row = local(remote.id)
    assert not row.drifted
    assert row.name == "Finance (renamed by a script)"
    assert sorted(row.tag_names()) == ["eu", "finance"]
    assert row.webhook.enabled and row.webhook.callback_url == "https://their-app.example/hooks"
    assert 'id="drift"' not in client.get(row.get_absolute_url()).text


@live
def test_send_ours(sandbox_site, settings, client, operator):
    remote = _changed_there(sandbox_site.url)
    client.force_login(operator)

    response = client.post(reverse("imports:send_ours", args=[local(remote.id).uuid]), follow=True)

    assert shown_messages(response) == [
        ("success", "Cloud Elements now holds the values from here.")
    ]
    there = SandboxInstance.objects.get(pk=remote.id)
    assert there.name == "Finance Dropbox" and there.tags == ["finance"]
    assert there.events_enabled is False
    row = local(remote.id)
    assert not row.drifted and row.name == "Finance Dropbox"
    assert run_scan(Job.Kind.DISCOVER).summary["changed"] == 0


@live
def test_send_ours_keeps_everything_when_cloud_elements_refuses(
    sandbox_site, settings, client, operator
):
    remote = _changed_there(sandbox_site.url)
    SandboxInstance.objects.filter(pk=remote.id).delete()
    client.force_login(operator)

    response = client.post(reverse("imports:send_ours", args=[local(remote.id).uuid]), follow=True)

    [(level, text)] = shown_messages(response)
    assert level == "error" and text.startswith("Cloud Elements keeps its values:")
    row = local(remote.id)
    assert row.drifted and row.name == "Finance Dropbox"
