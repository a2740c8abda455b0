"""The admin's bulk actions switch events on and off for many instances, as a job.

Each instance gets its own `PATCH /instances/{id}`; one that fails is reported and the job
carries on past it. A view-only user is neither offered nor able to run the actions, and the
admin offers no bulk delete. The integration test runs against the sandbox over real HTTP; the
others fake one client function at the seam.
"""

from __future__ import annotations

from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.urls import reverse

from instances.cloud_elements import client as cloud_elements
from instances.cloud_elements.client import CloudElementsNotFoundError, Instance
from instances.jobs import engine
from instances.jobs.models import Job
from instances.models import AuditEntry, ElementInstance, WebhookSettings
from tests.instances.lifecycle_helpers import (
    ACTIVE,
    RECEIVER_URL,
    audit_actions,
    create_remote_instance,
    live,
    local_copy,
    reload,
    shown_messages,
)

CHANGELIST = reverse("admin:instances_elementinstance_changelist")


def run_action(client, action: str, instances: list[ElementInstance], **extra):
    data = {"action": action, ACTION_CHECKBOX_NAME: [i.pk for i in instances], "index": 0}
    return client.post(CHANGELIST, {**data, **extra}, follow=True)


@live
def test_the_admin_action_carries_on_past_a_failing_instance(
    sandbox_site, settings, client, operator, make_instance
):
    kept = create_remote_instance(settings, name="Finance Dropbox")
    gone = create_remote_instance(settings, name="Legal Dropbox")
    finance = local_copy(make_instance, kept, callback_url=RECEIVER_URL)
    legal = local_copy(make_instance, gone, callback_url=RECEIVER_URL)  # newer: listed first
    cloud_elements.delete_instance(gone.id)
    client.force_login(operator)

    response = run_action(client, "enable_events", [finance, legal])

    assert response.status_code == 200
    job = Job.objects.get()
    assert shown_messages(response) == [
        (
            "success",
            f'Started <a href="/instances/jobs/{job.pk}/">job {job.pk}</a>: Turn events on, '
            "2 instances.",
        )
    ]
    assert engine.run_job(job.pk) == "done"  # what the task worker runs
    outcome = {i.instance.name: (i.status, i.message) for i in job.items.select_related("instance")}
    assert outcome["Finance Dropbox"] == ("ok", "Events turned on.")
    assert outcome["Legal Dropbox"][0] == "failed"
    assert CloudElementsNotFoundError.default_message in outcome["Legal Dropbox"][1]
    assert reload(legal).webhook.enabled is False
    assert reload(finance).webhook.enabled is True
    assert cloud_elements.get_instance(kept.id).events_enabled is True
    assert audit_actions(legal) == [AuditEntry.Action.REMOTE_ERROR]
    assert audit_actions(finance) == [AuditEntry.Action.EVENTS_ENABLED]


def test_the_admin_action_reports_a_remote_error_per_instance(
    client, operator, make_instance, monkeypatch
):
    finance = make_instance("Finance Dropbox", status=ACTIVE, remote_id=5001)
    legal = make_instance("Legal Dropbox", status=ACTIVE, remote_id=5002)
    for instance in (finance, legal):
        WebhookSettings.objects.filter(instance=instance).update(
            enabled=True, callback_url=RECEIVER_URL
        )
    sent: list[int] = []

    def update_instance(instance_id: int, changes: dict) -> Instance:
        sent.append(instance_id)
        if instance_id == 5002:
            raise cloud_elements.CloudElementsBadRequestError(request_id="req-5002")
        return Instance(id=instance_id, name="x", element_key="dropbox", events_enabled=False)

    monkeypatch.setattr(cloud_elements, "update_instance", update_instance)
    client.force_login(operator)

    run_action(client, "disable_events", [finance, legal])
    job = Job.objects.get()
    engine.run_job(job.pk)

    assert sorted(sent) == [5001, 5002]
    outcome = {i.instance.name: i.status for i in job.items.select_related("instance")}
    assert outcome == {"Finance Dropbox": "ok", "Legal Dropbox": "failed"}
    job.refresh_from_db()
    assert (job.done, job.failed) == (2, 1)
    assert reload(finance).webhook.enabled is False
    assert reload(legal).webhook.enabled is True
    assert legal.audit_entries.get().request_id == "req-5002"


def test_a_view_only_user_is_not_offered_the_event_actions(client, viewer, operator, make_instance):
    make_instance(status=ACTIVE, remote_id=5003)

    client.force_login(operator)
    assert 'value="enable_events"' in client.get(CHANGELIST).text
    client.force_login(viewer)
    page = client.get(CHANGELIST).text

    assert 'value="enable_events"' not in page
    assert 'value="disable_events"' not in page
    assert 'value="sync_from_cloud_elements"' not in page


def test_a_view_only_user_cannot_run_the_event_action(client, viewer, make_instance, sent):
    instance = make_instance(status=ACTIVE, remote_id=5004)
    client.force_login(viewer)

    response = run_action(client, "enable_events", [instance])

    # The viewer has no action at all: the POST just shows the list again, nothing ran.
    assert response.status_code == 200
    assert response.redirect_chain == []
    # The changelist again (its override, which adds the running-jobs notice, extends it).
    names = [t.name for t in response.templates]
    assert names[0] == "admin/instances/elementinstance/change_list.html"
    assert "admin/change_list.html" in names
    assert sent == []
    assert reload(instance).webhook.enabled is False


def test_the_admin_offers_no_bulk_delete(client, operator, make_instance, sent):
    instance = make_instance(status=ACTIVE, remote_id=5005)
    client.force_login(operator)

    page = client.get(CHANGELIST).text
    run_action(client, "delete_selected", [instance], post="yes")

    assert 'value="delete_selected"' not in page
    assert ElementInstance.objects.get(pk=instance.pk).status == ACTIVE
