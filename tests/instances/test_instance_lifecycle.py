"""An active instance's life: edit, re-authorize, sync, sync all and delete.

Each change goes to Cloud Elements first and is saved here only once it was accepted; a remote
failure changes nothing here. Integration tests use the sandbox over real HTTP; failure paths
fake one client function at the seam, so that `except CloudElementsError` sees the real class.
"""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from django.urls import reverse
from django.utils import timezone

from instances.cloud_elements import client as cloud_elements
from instances.cloud_elements.client import (
    CloudElementsBadRequestError,
    CloudElementsNotFoundError,
    CloudElementsServerError,
    Instance,
    OAuthUrl,
)
from instances.jobs import engine
from instances.jobs.models import Job
from instances.models import AuditEntry, ElementInstance, OAuthState, WebhookSettings
from instances.parameters import MASKED
from tests.instances.test_toggle_events import (
    RECEIVER_URL,
    audit_actions,
    create_remote_instance,
    local_copy,
    reload,
    shown_messages,
)

Status = ElementInstance.Status
Action = AuditEntry.Action
live = pytest.mark.django_db(transaction=True)

OLD_KEY = "signature-key-old-0123456789"
NEW_KEY = "signature-key-new-9876543210"
NEW_RECEIVER = "https://hooks.example.com/cloud-elements/v2/"


def url(name: str, instance: ElementInstance) -> str:
    return reverse(f"instances:{name}", args=[instance.uuid])


@pytest.fixture
def active(make_instance) -> ElementInstance:
    """An active instance with events on, a receiver and a signature key."""
    instance = make_instance("Marketing Dropbox", tags=["marketing", "eu"], status=Status.ACTIVE)
    instance.remote_id = 7301
    instance.save()
    webhook = instance.webhook
    webhook.enabled = True
    webhook.callback_url = RECEIVER_URL
    webhook.signature_key = OLD_KEY
    webhook.save()
    return reload(instance)


def echo(instance_id: int, changes: dict) -> Instance:
    """What Cloud Elements answers to an accepted PATCH (secrets masked)."""
    configuration = {
        key: MASKED if key.endswith("signature.key") else value
        for key, value in changes.get("configuration", {}).items()
    }
    return Instance(
        id=instance_id,
        name=changes.get("name", ""),
        element_key="dropbox",
        tags=list(changes.get("tags", [])),
        configuration=configuration,
        events_enabled=True,
    )


@pytest.fixture
def patched(monkeypatch) -> list[tuple[int, dict]]:
    """Accept every PATCH, recording it."""
    calls: list[tuple[int, dict]] = []

    def update_instance(instance_id: int, changes: dict) -> Instance:
        calls.append((instance_id, changes))
        return echo(instance_id, changes)

    monkeypatch.setattr(cloud_elements, "update_instance", update_instance)
    return calls


def settings_form(**changes) -> dict:
    data = {
        "name": "Marketing Dropbox EU",
        "tags": "marketing, eu, q3",
        "event_callback_url": NEW_RECEIVER,
        "new_signature_key": "",
    }
    return {**data, **changes}


# --- Edit ----------------------------------------------------------------------------------------


def test_the_edit_page_shows_the_current_settings_but_never_the_signature_key(
    client, operator, active
):
    client.force_login(operator)

    response = client.get(url("edit", active))

    assert response.status_code == 200
    page = response.text
    assert 'value="Marketing Dropbox"' in page
    assert re.search(r'id="id_tags">\s*eu, marketing</textarea>', page)
    assert f'value="{RECEIVER_URL}"' in page
    assert f"PATCH /instances/{active.remote_id}" in page
    assert OLD_KEY not in page
    assert OLD_KEY[:-4] not in page
    assert "••••6789" in page  # the masked key, so the operator knows one is set


def test_saving_pushes_name_the_full_tag_list_and_the_callback_url(
    client, operator, active, patched
):
    client.force_login(operator)

    response = client.post(url("edit", active), settings_form())

    assert response.status_code == 302
    assert response["Location"] == active.get_absolute_url()
    assert patched == [
        (
            7301,
            {
                "name": "Marketing Dropbox EU",
                "tags": ["marketing", "eu", "q3"],
                "configuration": {"event.notification.callback.url": NEW_RECEIVER},
            },
        )
    ]
    instance = reload(active)
    assert instance.name == "Marketing Dropbox EU"
    assert sorted(instance.tag_names()) == ["eu", "marketing", "q3"]
    assert instance.webhook.callback_url == NEW_RECEIVER
    assert instance.webhook.signature_key == OLD_KEY
    assert instance.webhook.previous_signature_key == ""
    assert instance.audit_entries.get().action == Action.UPDATED


def test_saving_sends_the_whole_tag_list_even_when_a_tag_is_removed(
    client, operator, active, patched
):
    client.force_login(operator)

    client.post(url("edit", active), settings_form(tags="eu"))

    assert patched[0][1]["tags"] == ["eu"]
    assert reload(active).tag_names() == ["eu"]


def test_a_typed_signature_key_is_sent_and_only_then(client, operator, active, patched):
    client.force_login(operator)

    client.post(url("edit", active), settings_form(new_signature_key=""))
    client.post(url("edit", active), settings_form(new_signature_key=NEW_KEY))

    assert "event.notification.signature.key" not in patched[0][1]["configuration"]
    assert patched[1][1]["configuration"] == {
        "event.notification.callback.url": NEW_RECEIVER,
        "event.notification.signature.key": NEW_KEY,
    }


def test_a_new_signature_key_keeps_the_previous_one_for_72_hours(client, operator, active, patched):
    client.force_login(operator)
    before = timezone.now()

    client.post(url("edit", active), settings_form(new_signature_key=NEW_KEY))

    webhook = reload(active).webhook
    assert webhook.signature_key == NEW_KEY
    assert webhook.previous_signature_key == OLD_KEY
    expires = webhook.previous_signature_key_expires_at
    assert before + timedelta(hours=72) <= expires <= timezone.now() + timedelta(hours=72)
    assert webhook.accepted_keys() == [NEW_KEY, OLD_KEY]
    assert "signature key changed" in active.audit_entries.get().detail


def test_the_previous_signature_key_is_refused_after_72_hours(client, operator, active, patched):
    client.force_login(operator)
    client.post(url("edit", active), settings_form(new_signature_key=NEW_KEY))
    assert reload(active).webhook.accepted_keys() == [NEW_KEY, OLD_KEY]
    WebhookSettings.objects.filter(instance=active).update(
        previous_signature_key_expires_at=timezone.now() - timedelta(seconds=1)
    )

    assert reload(active).webhook.accepted_keys() == [NEW_KEY]


def test_nothing_changes_here_before_cloud_elements_accepts(client, operator, active, monkeypatch):
    seen_during_the_call: list[tuple] = []

    def update_instance(instance_id: int, changes: dict) -> Instance:
        instance = reload(active)
        seen_during_the_call.append(
            (instance.name, sorted(instance.tag_names()), instance.webhook.callback_url)
        )
        return echo(instance_id, changes)

    monkeypatch.setattr(cloud_elements, "update_instance", update_instance)
    client.force_login(operator)

    client.post(url("edit", active), settings_form(new_signature_key=NEW_KEY))

    assert seen_during_the_call == [("Marketing Dropbox", ["eu", "marketing"], RECEIVER_URL)]
    assert reload(active).name == "Marketing Dropbox EU"


def test_a_remote_error_changes_nothing_and_shows_the_form_again(
    client, operator, active, monkeypatch
):
    def update_instance(instance_id: int, changes: dict) -> Instance:
        raise CloudElementsBadRequestError(
            "Cloud Elements rejected the request. Cloud Elements says: bad callback URL.",
            status=400,
            request_id="req-edit-1",
        )

    monkeypatch.setattr(cloud_elements, "update_instance", update_instance)
    client.force_login(operator)

    response = client.post(url("edit", active), settings_form(new_signature_key=NEW_KEY))

    assert response.status_code == 400
    assert "Nothing was changed." in response.text
    assert "Cloud Elements says: bad callback URL." in response.text
    assert 'value="Marketing Dropbox EU"' in response.text  # the typed input is kept
    assert NEW_KEY not in response.text
    instance = reload(active)
    assert instance.name == "Marketing Dropbox"
    assert sorted(instance.tag_names()) == ["eu", "marketing"]
    assert instance.webhook.callback_url == RECEIVER_URL
    assert instance.webhook.signature_key == OLD_KEY
    assert instance.webhook.previous_signature_key == ""
    failure = instance.audit_entries.get()
    assert (failure.action, failure.request_id) == (Action.REMOTE_ERROR, "req-edit-1")


def test_an_invalid_form_sends_nothing(client, operator, active, patched):
    client.force_login(operator)

    response = client.post(
        url("edit", active), settings_form(event_callback_url="http://hooks.example.com/")
    )

    assert response.status_code == 400
    assert patched == []
    assert reload(active).webhook.callback_url == RECEIVER_URL


def test_a_view_only_user_cannot_edit(client, viewer, active, patched):
    client.force_login(viewer)

    assert client.get(url("edit", active)).status_code == 403
    assert client.post(url("edit", active), settings_form()).status_code == 403
    assert patched == []
    assert reload(active).name == "Marketing Dropbox"


@live
def test_saving_changes_the_instance_at_the_sandbox(
    sandbox_site, settings, client, operator, make_instance
):
    remote = create_remote_instance(settings, tags=("marketing", "eu"), signature_key=OLD_KEY)
    instance = local_copy(make_instance, remote, callback_url=RECEIVER_URL)
    client.force_login(operator)

    response = client.post(
        url("edit", instance), settings_form(tags="finance", new_signature_key=NEW_KEY)
    )

    assert response.status_code == 302
    at_sandbox = cloud_elements.get_instance(remote.id)
    assert at_sandbox.name == "Marketing Dropbox EU"
    assert at_sandbox.tags == ["finance"]  # replaced, not merged
    assert at_sandbox.setting("event.notification.callback.url") == NEW_RECEIVER
    assert at_sandbox.configuration["event.notification.signature.key"] == MASKED
    instance = reload(instance)
    assert instance.tag_names() == ["finance"]
    assert instance.webhook.signature_key == NEW_KEY


# --- Delete --------------------------------------------------------------------------------------


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


# --- Sync ----------------------------------------------------------------------------------------


def test_sync_takes_name_tags_events_and_validity_from_cloud_elements(
    client, operator, active, monkeypatch
):
    remote = Instance(
        id=7301,
        name="Marketing Dropbox (renamed)",
        element_key="dropbox",
        tags=["emea"],
        configuration={
            "event.notification.enabled": False,
            "event.notification.callback.url": NEW_RECEIVER,
        },
        valid=False,
        disabled=True,
        events_enabled=False,
    )
    monkeypatch.setattr(cloud_elements, "get_instance", lambda instance_id: remote)
    client.force_login(operator)

    response = client.post(url("sync", active), follow=True)

    instance = reload(active)
    assert instance.name == "Marketing Dropbox (renamed)"
    assert instance.tag_names() == ["emea"]
    assert instance.webhook.enabled is False
    assert instance.webhook.callback_url == NEW_RECEIVER
    assert (instance.remote_valid, instance.remote_disabled) == (False, True)
    assert instance.synced_at is not None
    assert instance.audit_entries.get().action == Action.SYNCED
    assert shown_messages(response) == [("success", "Synced from Cloud Elements.")]


def test_sync_never_writes_masked_values_over_local_secrets(client, operator, active, monkeypatch):
    remote = Instance(
        id=7301,
        name="Marketing Dropbox",
        element_key="dropbox",
        configuration={
            "oauth.api.secret": MASKED,
            "event.notification.callback.url": MASKED,
            "event.notification.signature.key": MASKED,
        },
        events_enabled=True,
    )
    monkeypatch.setattr(cloud_elements, "get_instance", lambda instance_id: remote)
    client.force_login(operator)

    client.post(url("sync", active))

    instance = reload(active)
    assert instance.oauth_api_secret == "app-secret-very-long-4567"
    assert instance.webhook.signature_key == OLD_KEY
    assert instance.webhook.callback_url == RECEIVER_URL


@live
def test_sync_from_the_sandbox_keeps_local_secrets(
    sandbox_site, settings, client, operator, make_instance
):
    remote = create_remote_instance(
        settings, name="Renamed at Cloud Elements", events_enabled=True, signature_key=OLD_KEY
    )
    instance = make_instance(
        "Old name",
        tags=["old"],
        status=Status.ACTIVE,
        remote_id=remote.id,
        oauth_api_secret="app-secret-local-only-1111",
    )
    webhook = instance.webhook
    webhook.signature_key = OLD_KEY
    webhook.save()
    assert cloud_elements.get_instance(remote.id).configuration["oauth.api.secret"] == MASKED
    client.force_login(operator)

    client.post(url("sync", instance))

    instance = reload(instance)
    assert instance.name == "Renamed at Cloud Elements"
    assert instance.tag_names() == ["marketing"]
    assert instance.webhook.enabled is True
    assert instance.webhook.callback_url == RECEIVER_URL
    assert instance.oauth_api_secret == "app-secret-local-only-1111"
    assert instance.webhook.signature_key == OLD_KEY


def test_an_instance_missing_at_cloud_elements_is_flagged_not_deleted(
    client, operator, active, monkeypatch
):
    def get_instance(instance_id: int) -> Instance:
        raise CloudElementsNotFoundError(status=404)

    monkeypatch.setattr(cloud_elements, "get_instance", get_instance)
    client.force_login(operator)

    client.post(url("sync", active))

    instance = reload(active)
    assert instance.remote_missing is True
    assert instance.status == Status.ACTIVE
    assert instance.remote_id == 7301
    assert "no instance 7301" in instance.last_error
    assert instance.name == "Marketing Dropbox"
    assert instance.webhook.signature_key == OLD_KEY
    failure = instance.audit_entries.get()
    assert (failure.action, failure.outcome) == (Action.SYNCED, AuditEntry.Outcome.FAILURE)
    assert "Missing at Cloud Elements" in client.get(instance.get_absolute_url()).text


def test_syncing_a_missing_instance_warns_instead_of_reporting_success(
    client, operator, active, monkeypatch
):
    def get_instance(instance_id: int) -> Instance:
        raise CloudElementsNotFoundError(status=404)

    monkeypatch.setattr(cloud_elements, "get_instance", get_instance)
    client.force_login(operator)

    response = client.post(url("sync", active), follow=True)

    levels = [level for level, _ in shown_messages(response)]
    assert "success" not in levels
    assert levels == ["warning"]


def test_an_instance_found_again_loses_its_missing_error(client, operator, active, monkeypatch):
    answers: list = [CloudElementsNotFoundError(status=404)]

    def get_instance(instance_id: int) -> Instance:
        if answers:
            raise answers.pop()
        return Instance(id=instance_id, name="Marketing Dropbox", element_key="dropbox")

    monkeypatch.setattr(cloud_elements, "get_instance", get_instance)
    client.force_login(operator)
    client.post(url("sync", active))
    assert reload(active).remote_missing is True

    client.post(url("sync", active))

    instance = reload(active)
    assert instance.remote_missing is False
    assert instance.last_error == ""


def test_a_remote_error_during_sync_changes_nothing(client, operator, active, monkeypatch):
    def get_instance(instance_id: int) -> Instance:
        raise CloudElementsServerError(status=503)

    monkeypatch.setattr(cloud_elements, "get_instance", get_instance)
    client.force_login(operator)

    response = client.post(url("sync", active), follow=True)

    instance = reload(active)
    assert (instance.remote_missing, instance.synced_at) == (False, None)
    assert shown_messages(response) == [("error", CloudElementsServerError.default_message)]


def test_a_view_only_user_cannot_sync(client, viewer, active, monkeypatch):
    calls: list[int] = []
    monkeypatch.setattr(cloud_elements, "get_instance", calls.append)
    client.force_login(viewer)

    assert client.post(url("sync", active)).status_code == 403
    assert client.post(reverse("instances:sync_all")).status_code == 403
    assert calls == []


@live
def test_sync_all_is_a_job_over_every_active_instance(
    sandbox_site, settings, client, operator, make_instance
):
    finance = create_remote_instance(settings, name="Finance Dropbox", tags=("finance",))
    legal = create_remote_instance(settings, name="Legal Dropbox", events_enabled=True)
    gone = create_remote_instance(settings, name="Gone Dropbox")
    cloud_elements.delete_instance(gone.id)
    rows = {
        "finance": make_instance("Finance (old)", status=Status.ACTIVE, remote_id=finance.id),
        "legal": make_instance("Legal (old)", status=Status.ACTIVE, remote_id=legal.id),
        "gone": make_instance("Gone Dropbox", status=Status.ACTIVE, remote_id=gone.id),
        "draft": make_instance("Draft Dropbox"),
    }
    client.force_login(operator)

    response = client.post(reverse("instances:sync_all"), follow=True)

    job = Job.objects.get()
    assert response.redirect_chain[-1][0] == job.get_absolute_url()
    assert shown_messages(response) == [
        ("success", f"Started job {job.pk}: sync of 3 active instances.")
    ]
    engine.run_job(job.pk)  # what the task worker runs
    job.refresh_from_db()
    assert (job.status, job.total, job.done, job.failed) == ("done", 3, 3, 1)
    rows = {key: reload(row) for key, row in rows.items()}
    assert rows["finance"].name == "Finance Dropbox"
    assert rows["finance"].tag_names() == ["finance"]
    assert rows["legal"].name == "Legal Dropbox"
    assert rows["legal"].webhook.enabled is True
    assert not rows["finance"].remote_missing and not rows["legal"].remote_missing
    assert rows["gone"].remote_missing is True
    assert rows["gone"].status == Status.ACTIVE
    assert f"no instance {gone.id}" in rows["gone"].last_error
    assert rows["draft"].synced_at is None


def test_sync_all_with_no_active_instance_says_so(client, operator, make_instance):
    make_instance("Draft Dropbox")
    client.force_login(operator)

    response = client.post(reverse("instances:sync_all"), follow=True)

    assert not Job.objects.exists()
    assert shown_messages(response) == [("warning", "There is no active instance to sync.")]


# --- Re-authorize --------------------------------------------------------------------------------


def test_reauthorizing_goes_through_consent_and_keeps_the_cloud_elements_id(
    client, operator, active, monkeypatch
):
    asked: list[dict] = []

    def get_oauth_url(**arguments) -> OAuthUrl:
        asked.append(arguments)
        consent = f"https://www.dropbox.com/oauth2/authorize?state={arguments['state']}"
        return OAuthUrl(element="dropbox", oauth_url=consent)

    monkeypatch.setattr(cloud_elements, "get_oauth_url", get_oauth_url)
    client.force_login(operator)

    response = client.post(url("reauthorize", active))

    assert response.status_code == 302
    assert response["Location"].startswith("https://www.dropbox.com/oauth2/authorize?")
    state = parse_qs(urlsplit(response["Location"]).query)["state"][0]
    assert asked[0]["element_key"] == "dropbox"
    assert asked[0]["callback_url"] == active.oauth_callback_url
    assert OAuthState.objects.get().purpose == OAuthState.Purpose.REAUTHORIZE
    assert reload(active).status == Status.ACTIVE  # unlike a create, not "authorizing"

    patches: list[tuple[int, dict]] = []

    def update_instance(instance_id: int, changes: dict) -> Instance:
        patches.append((instance_id, changes))
        return Instance(
            id=instance_id, name="Marketing Dropbox", element_key="dropbox", token="new-token-42"
        )

    monkeypatch.setattr(cloud_elements, "update_instance", update_instance)

    back = client.get(
        reverse("instances:oauth_callback"), {"state": state, "code": "fresh-code-1"}, follow=True
    )

    assert patches == [(7301, {"providerData": {"code": "fresh-code-1"}})]
    instance = reload(active)
    assert instance.remote_id == 7301
    assert instance.status == Status.ACTIVE
    assert instance.remote_token == "new-token-42"
    assert ElementInstance.objects.count() == 1
    assert audit_actions(instance)[0] == Action.REAUTHORIZED
    assert back.redirect_chain[-1][0] == instance.get_absolute_url()
    assert shown_messages(back)[0][0] == "success"


def start_reauthorization(client, instance: ElementInstance, monkeypatch) -> str:
    """Press Re-authorize with the consent URL faked; return the state it carries."""
    monkeypatch.setattr(
        cloud_elements,
        "get_oauth_url",
        lambda **arguments: OAuthUrl(
            "dropbox", f"https://consent.test/?state={arguments['state']}"
        ),
    )
    response = client.post(url("reauthorize", instance))
    return parse_qs(urlsplit(response["Location"]).query)["state"][0]


def refuse_the_code(monkeypatch) -> None:
    def update_instance(instance_id: int, changes: dict) -> Instance:
        raise CloudElementsBadRequestError(
            "Cloud Elements rejected the request. Provider says: invalid_grant",
            request_id="req-reauth-1",
        )

    monkeypatch.setattr(cloud_elements, "update_instance", update_instance)


def test_a_failed_reauthorization_keeps_the_instance_active_and_records_why(
    client, operator, active, monkeypatch
):
    client.force_login(operator)
    state = start_reauthorization(client, active, monkeypatch)
    refuse_the_code(monkeypatch)

    client.get(reverse("instances:oauth_callback"), {"state": state, "code": "stale"})

    instance = reload(active)
    assert (instance.status, instance.remote_id) == (Status.ACTIVE, 7301)
    assert "invalid_grant" in instance.last_error
    assert instance.last_error_request_id == "req-reauth-1"
    assert Action.REMOTE_ERROR in audit_actions(instance)
    assert Action.REAUTHORIZED not in audit_actions(instance)


def test_a_failed_reauthorization_is_not_reported_as_connected(
    client, operator, active, monkeypatch
):
    client.force_login(operator)
    state = start_reauthorization(client, active, monkeypatch)
    refuse_the_code(monkeypatch)

    back = client.get(
        reverse("instances:oauth_callback"), {"state": state, "code": "stale"}, follow=True
    )

    assert shown_messages(back) == [("error", reload(active).last_error)]


def test_a_denied_reauthorization_is_not_reported_as_connected(
    client, operator, active, monkeypatch
):
    client.force_login(operator)
    state = start_reauthorization(client, active, monkeypatch)

    back = client.get(
        reverse("instances:oauth_callback"),
        {"state": state, "error": "access_denied"},
        follow=True,
    )

    assert Action.AUTHORIZATION_DENIED in audit_actions(active)
    assert [level for level, _ in shown_messages(back)] == ["error"]


def test_only_an_active_instance_can_be_reauthorized(client, operator, make_instance, monkeypatch):
    asked: list[dict] = []
    monkeypatch.setattr(cloud_elements, "get_oauth_url", lambda **a: asked.append(a))
    draft = make_instance("Draft Dropbox")
    client.force_login(operator)

    assert client.post(url("reauthorize", draft)).status_code == 404
    assert asked == []


def test_a_view_only_user_cannot_reauthorize(client, viewer, active, monkeypatch):
    asked: list[dict] = []
    monkeypatch.setattr(cloud_elements, "get_oauth_url", lambda **a: asked.append(a))
    client.force_login(viewer)

    assert client.post(url("reauthorize", active)).status_code == 403
    assert asked == []
    assert not OAuthState.objects.exists()
