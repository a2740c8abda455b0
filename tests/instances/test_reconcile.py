"""Reconcile: after an unanswered create, adopt the remote instance only when it is surely ours.

Issue 10, point 13. Cloud Elements is faked by a recording fake that keeps what it is sent
(name, element, configuration with the webhook URL) and answers searches from it, so a bug that
ignores the payload fails here; the same cases then run against the sandbox over real HTTP.
"""

from __future__ import annotations

import copy
from datetime import timedelta

import pytest
from django.utils import timezone

from instances import consent
from instances.cloud_elements import client as ce
from instances.forms import webhook_url
from instances.models import ElementInstance

Status = ElementInstance.Status
NAME = "Finance Dropbox"
SOMEONE_ELSES_HOOK = "https://elsewhere.example.com/hooks/finance/"


class RecordingCloudElements:
    """Holds instances created from the payloads it receives; loses the create's answer."""

    def __init__(self) -> None:
        self.instances: dict[int, ce.Instance] = {}
        self.payloads: list[dict] = []
        self.searches: list[str] = []

    def store(self, payload: dict) -> ce.Instance:
        instance_id = 7000 + len(self.instances) + 1
        configuration = {
            key: "********" if "secret" in key or key.endswith(".key") else value
            for key, value in payload.get("configuration", {}).items()
        }
        created = ce.Instance(
            id=instance_id,
            name=payload["name"],
            element_key=payload["element"]["key"],
            token=f"token-{instance_id}",
            tags=list(payload.get("tags", [])),
            configuration=configuration,
        )
        self.instances[instance_id] = created
        return created

    def create_instance_but_lose_the_answer(self, payload: dict) -> ce.Instance:
        self.payloads.append(copy.deepcopy(payload))
        self.store(payload)
        raise ce.CloudElementsTimeoutError()

    def create_nothing_and_lose_the_answer(self, payload: dict) -> ce.Instance:
        self.payloads.append(copy.deepcopy(payload))
        raise ce.CloudElementsTimeoutError()

    def list_instances(self, *, tags=None, search_text: str = "") -> list[ce.Instance]:
        self.searches.append(search_text)
        return [i for i in self.instances.values() if search_text.lower() in i.name.lower()]

    def get_instance(self, instance_id: int) -> ce.Instance:
        if instance_id not in self.instances:
            raise ce.CloudElementsNotFoundError()
        return self.instances[instance_id]


@pytest.fixture
def remote(monkeypatch) -> RecordingCloudElements:
    fake = RecordingCloudElements()
    monkeypatch.setattr(ce, "create_instance", fake.create_instance_but_lose_the_answer)
    monkeypatch.setattr(ce, "list_instances", fake.list_instances)
    monkeypatch.setattr(ce, "get_instance", fake.get_instance)
    return fake


def someone_elses(remote: RecordingCloudElements, *, hook: str = SOMEONE_ELSES_HOOK) -> int:
    """A same-name instance at Cloud Elements that is not this dashboard's."""
    payload = {
        "element": {"key": "dropbox"},
        "name": NAME,
        "configuration": {"event.notification.callback.url": hook},
    }
    return remote.store(payload).id


@pytest.fixture
def draft(make_instance) -> ElementInstance:
    """An apiKey draft whose events go to this dashboard's receiver (the form's default)."""
    instance = make_instance(NAME, authentication_type="apiKey", api_key="api-key-0123456789")
    instance.webhook.enabled = True
    instance.webhook.callback_url = webhook_url(instance.uuid)
    instance.webhook.save()
    return ElementInstance.objects.select_related("webhook").get(pk=instance.pk)


def reload(instance: ElementInstance) -> ElementInstance:
    return ElementInstance.objects.get(pk=instance.pk)


def test_the_create_payload_carries_our_webhook_url_as_the_marker(remote, draft, operator):
    consent.create_with_api_key(instance=draft, actor=operator)

    [payload] = remote.payloads
    assert payload["name"] == NAME
    assert payload["configuration"]["event.notification.callback.url"] == webhook_url(draft.uuid)
    assert remote.searches == [NAME]


def test_it_prefers_the_candidate_carrying_our_webhook_url(remote, draft, operator):
    first = someone_elses(remote)
    second = someone_elses(remote, hook="https://elsewhere.example.com/other/")

    consent.create_with_api_key(instance=draft, actor=operator)

    ours = max(remote.instances)
    assert ours not in (first, second)
    instance = reload(draft)
    assert instance.status == Status.ACTIVE
    assert instance.remote_id == ours
    assert instance.remote_token == f"token-{ours}"


def test_it_never_adopts_the_first_of_several_same_name_candidates(remote, draft, operator):
    # Without the marker (no receiver URL was sent), two same-name candidates are a guess.
    draft.webhook.callback_url = ""
    draft.webhook.enabled = False
    draft.webhook.save()
    someone_elses(remote)

    consent.create_with_api_key(instance=draft, actor=operator)

    assert "event.notification.callback.url" not in remote.payloads[0]["configuration"]
    instance = reload(draft)
    assert instance.status == Status.UNKNOWN
    assert instance.remote_id is None
    assert "Several instances named" in instance.last_error
    assert ", ".join(str(i) for i in sorted(remote.instances)) in instance.last_error


def test_it_never_adopts_an_id_another_local_instance_owns(
    remote, draft, operator, make_instance, monkeypatch
):
    owned = someone_elses(remote, hook="")
    make_instance(NAME, status=Status.ACTIVE, remote_id=owned)
    monkeypatch.setattr(ce, "create_instance", remote.create_nothing_and_lose_the_answer)

    consent.create_with_api_key(instance=draft, actor=operator)

    instance = reload(draft)
    assert instance.status == Status.UNKNOWN
    assert instance.remote_id is None
    # Once the grace period is over, the only candidate is still someone else's: not created.
    ElementInstance.objects.filter(pk=draft.pk).update(
        updated_at=timezone.now() - timedelta(minutes=5)
    )
    consent.reconcile(instance=reload(draft), actor=operator)
    instance = reload(draft)
    assert instance.status == Status.FAILED
    assert instance.remote_id is None
    assert ElementInstance.objects.filter(remote_id=owned).count() == 1


def test_beside_an_owned_candidate_it_adopts_the_unowned_one(
    remote, draft, operator, make_instance
):
    draft.webhook.callback_url = ""
    draft.webhook.save()
    owned = someone_elses(remote, hook="")
    make_instance(NAME, status=Status.ACTIVE, remote_id=owned)

    consent.create_with_api_key(instance=draft, actor=operator)

    instance = reload(draft)
    assert instance.status == Status.ACTIVE
    assert instance.remote_id == max(remote.instances)
    assert instance.remote_id != owned


# --- The same against the sandbox over HTTP ------------------------------------------------------

live = pytest.mark.django_db(transaction=True)


def create_at_sandbox(payload: dict) -> int:
    return ce.create_instance(payload).id


def unknown_after_a_lost_answer(instance: ElementInstance) -> ElementInstance:
    """What _create_remote leaves behind when POST /instances got no answer."""
    ElementInstance.objects.filter(pk=instance.pk).update(
        status=Status.UNKNOWN, last_error="Sent to Cloud Elements; no answer yet."
    )
    return ElementInstance.objects.select_related("webhook").get(pk=instance.pk)


def someone_elses_payload(hook: str = SOMEONE_ELSES_HOOK) -> dict:
    return {
        "element": {"key": "dropbox"},
        "name": NAME,
        "configuration": {
            "authentication.type": "apiKey",
            "api.key": "someone-elses-key-000",
            "event.notification.enabled": bool(hook),
            **({"event.notification.callback.url": hook} if hook else {}),
        },
        "tags": [],
    }


@live
def test_against_the_sandbox_it_adopts_our_marked_instance(sandbox_site, draft, operator):
    create_at_sandbox(someone_elses_payload())
    ours = create_at_sandbox(consent.build_instance_payload(draft))
    create_at_sandbox(someone_elses_payload("https://elsewhere.example.com/2/"))

    consent.reconcile(instance=unknown_after_a_lost_answer(draft), actor=operator)

    instance = reload(draft)
    assert instance.status == Status.ACTIVE
    assert instance.remote_id == ours


@live
def test_against_the_sandbox_several_unmarked_candidates_stay_unknown(
    sandbox_site, draft, operator
):
    draft.webhook.callback_url = ""
    draft.webhook.enabled = False
    draft.webhook.save()
    create_at_sandbox(someone_elses_payload(""))
    create_at_sandbox(consent.build_instance_payload(draft))

    consent.reconcile(instance=unknown_after_a_lost_answer(draft), actor=operator)

    instance = reload(draft)
    assert instance.status == Status.UNKNOWN
    assert instance.remote_id is None
    assert "Several instances named" in instance.last_error


@live
def test_against_the_sandbox_an_owned_instance_is_never_adopted(
    sandbox_site, draft, operator, make_instance
):
    # Our create never happened; the only same-name instance is another local one's.
    owned = create_at_sandbox(someone_elses_payload(""))
    make_instance(NAME, status=Status.ACTIVE, remote_id=owned)

    draft = unknown_after_a_lost_answer(draft)
    ElementInstance.objects.filter(pk=draft.pk).update(
        updated_at=timezone.now() - timedelta(minutes=5)
    )
    consent.reconcile(instance=reload(draft), actor=operator)

    instance = reload(draft)
    assert instance.status == Status.FAILED
    assert instance.remote_id is None
    assert ElementInstance.objects.filter(remote_id=owned).count() == 1
