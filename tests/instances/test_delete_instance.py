"""Deleting an instance: at Cloud Elements first, then marked deleted here with its history kept.

The page asks first and names the remote call; an instance already gone at Cloud Elements counts
as deleted, a server error keeps it (the delete may have happened), and a draft is deleted without
calling Cloud Elements. A view-only user cannot delete, and the admin offers no delete at all.
The integration test uses the sandbox over real HTTP; the others fake one client function at the
seam, so that `except CloudElementsError` sees the real class.
"""

from __future__ import annotations

import pytest
from django.urls import reverse

from instances.cloud_elements import client as cloud_elements
from instances.cloud_elements.client import CloudElementsNotFoundError, CloudElementsServerError
from instances.models import AuditEntry, ElementInstance
from tests.instances.lifecycle_helpers import (
    RECEIVER_URL,
    Action,
    Status,
    audit_actions,
    create_remote_instance,
    live,
    local_copy,
    reload,
    shown_messages,
    url,
)


@pytest.fixture
def deleted_remotely(monkeypatch) -> list[int]:
    """Accept every DELETE, recording it."""
    calls: list[int] = []
    monkeypatch.setattr(cloud_elements, "delete_instance", calls.append)
    return calls


def test_the_delete_page_asks_first_and_names_the_remote_call(
    client, operator, active, deleted_remotely
):
    client.force_login(operator)

    response = client.get(url("delete", active))

    assert response.status_code == 200
    assert "<code>DELETE /instances/7301</code>" in response.text
    assert "Yes, delete it" in response.text
    assert deleted_remotely == []
    assert reload(active).status == Status.ACTIVE


@live
def test_deleting_deletes_at_the_sandbox_and_keeps_the_history_here(
    sandbox_site, settings, client, operator, make_instance
):
    remote = create_remote_instance(settings, events_enabled=True)
    instance = local_copy(make_instance, remote, enabled=True, callback_url=RECEIVER_URL)
    AuditEntry.objects.create(instance=instance, action=Action.CREATED, actor=operator)
    client.force_login(operator)

    response = client.post(url("delete", instance), follow=True)

    with pytest.raises(CloudElementsNotFoundError):
        cloud_elements.get_instance(remote.id)
    instance = reload(instance)
    assert instance.status == Status.DELETED
    assert instance.remote_id == remote.id
    assert instance.webhook.enabled is False
    assert audit_actions(instance) == [Action.DELETED, Action.CREATED]
    assert ("success", "“Marketing Dropbox” was deleted; its history is kept.") in shown_messages(
        response
    )


def test_a_deleted_instance_leaves_the_default_list_but_not_the_deleted_filter(
    client, operator, active, deleted_remotely
):
    client.force_login(operator)
    client.post(url("delete", active))

    default = client.get(reverse("instances:index")).text
    deleted = client.get(reverse("instances:index"), {"status": "deleted"}).text

    assert deleted_remotely == [7301]
    assert active.get_absolute_url() not in default
    assert active.get_absolute_url() in deleted


def test_an_instance_already_gone_at_cloud_elements_counts_as_deleted(
    client, operator, active, monkeypatch
):
    def delete_instance(instance_id: int) -> None:
        raise CloudElementsNotFoundError(status=404)

    monkeypatch.setattr(cloud_elements, "delete_instance", delete_instance)
    client.force_login(operator)

    response = client.post(url("delete", active), follow=True)

    assert reload(active).status == Status.DELETED
    assert "already gone" in active.audit_entries.get(action=Action.DELETED).detail
    assert shown_messages(response)[0][0] == "success"


def test_a_server_error_keeps_the_instance_and_says_it_may_be_deleted(
    client, operator, active, monkeypatch
):
    # A 5xx may come after the delete was carried out: never claim "nothing was deleted".
    def delete_instance(instance_id: int) -> None:
        raise CloudElementsServerError(status=500, request_id="req-delete-1")

    monkeypatch.setattr(cloud_elements, "delete_instance", delete_instance)
    client.force_login(operator)

    response = client.post(url("delete", active), follow=True)

    instance = reload(active)
    assert instance.status == Status.ACTIVE
    assert instance.webhook.enabled is True
    assert shown_messages(response) == [
        (
            "error",
            "Cloud Elements may have deleted it; delete again to make sure. "
            f"{CloudElementsServerError.default_message}",
        )
    ]
    assert audit_actions(instance) == [Action.REMOTE_ERROR]


def test_a_draft_is_deleted_without_calling_cloud_elements(
    client, operator, make_instance, deleted_remotely
):
    draft = make_instance("Draft Dropbox")
    client.force_login(operator)

    client.post(url("delete", draft))

    assert deleted_remotely == []
    assert reload(draft).status == Status.DELETED


def test_a_view_only_user_cannot_delete_and_nothing_is_sent(
    client, viewer, active, deleted_remotely
):
    client.force_login(viewer)

    assert client.get(url("delete", active)).status_code == 403
    assert client.post(url("delete", active)).status_code == 403
    assert deleted_remotely == []
    assert reload(active).status == Status.ACTIVE


def test_the_admin_cannot_delete_an_instance(client, operator, active):
    client.force_login(operator)
    change = reverse("admin:instances_elementinstance_change", args=[active.pk])
    delete = reverse("admin:instances_elementinstance_delete", args=[active.pk])

    page = client.get(change).text

    assert 'class="deletelink"' not in page
    assert delete not in page
    assert client.post(delete, {"post": "yes"}).status_code == 403
    assert ElementInstance.objects.filter(pk=active.pk).exists()
