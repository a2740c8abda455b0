"""When Cloud Elements fails during an OAuth create: before the consent, or at `POST /instances`.

A rejected create fails with Cloud Elements' reason and request id; a create whose answer was
lost (timeout, dropped connection, 5xx) goes to unknown and is reconciled by looking the
instance up, never by sending the code again; an unreachable Cloud Elements before the consent
keeps the draft. Cloud Elements is faked at the client's seam (see consent_helpers.py).
"""

from __future__ import annotations

import html
from datetime import timedelta

import pytest
from django.utils import timezone

from instances.cloud_elements import client as cloud_elements
from instances.models import AuditEntry, ElementInstance
from tests.instances.consent_helpers import (
    CALLBACK,
    CLIENT_SECRET,
    NEW,
    Status,
    callback,
    form_data,
    reloaded,
    start,
)

pytestmark = pytest.mark.usefixtures("fast_test_setup")


def test_a_rejected_create_fails_with_the_reason_and_request_id(
    operator_client, remote, monkeypatch
):
    message = "Cloud Elements rejected the request. Cloud Elements says: Invalid code."
    remote.fail_create(
        monkeypatch,
        cloud_elements.CloudElementsBadRequestError(message, status=400, request_id="req-123"),
    )
    instance, state = start(operator_client, remote)

    response = operator_client.get(CALLBACK, {"state": state, "code": "code-1"}, follow=True)

    instance = reloaded(instance)
    assert instance.status == Status.FAILED
    assert instance.remote_id is None
    assert instance.last_error == message
    assert instance.last_error_request_id == "req-123"
    page = html.unescape(response.text)
    assert response.redirect_chain[-1][0] == instance.get_absolute_url()
    assert message in page
    assert "req-123" in page
    assert len(remote.payloads) == 1


def test_a_timed_out_create_is_adopted_when_cloud_elements_has_it(
    operator_client, remote, monkeypatch
):
    remote.fail_create(monkeypatch, cloud_elements.CloudElementsTimeoutError())
    instance, state = start(operator_client, remote)
    searches: list[tuple[str, str]] = []

    def list_instances(*, tags=None, search_text=""):
        searches.append((search_text, reloaded(instance).status))
        return [cloud_elements.Instance(id=77001, name="Finance Dropbox", element_key="dropbox")]

    def get_instance(instance_id):
        assert instance_id == 77001
        return cloud_elements.Instance(
            id=77001, name="Finance Dropbox", element_key="dropbox", token="recovered-token-42"
        )

    monkeypatch.setattr(cloud_elements, "list_instances", list_instances)
    monkeypatch.setattr(cloud_elements, "get_instance", get_instance)

    callback(operator_client, state=state, code="code-1")

    instance = reloaded(instance)
    # Looked up while the instance was unknown, never by sending the code again.
    assert searches == [("Finance Dropbox", Status.UNKNOWN)]
    assert instance.status == Status.ACTIVE
    assert instance.remote_id == 77001
    assert instance.remote_token == "recovered-token-42"
    assert instance.audit_entries.filter(action=AuditEntry.Action.RECONCILED).exists()
    assert len(remote.payloads) == 1


@pytest.mark.parametrize(
    "error",
    [
        cloud_elements.CloudElementsTimeoutError(),
        cloud_elements.CloudElementsConnectionDroppedError(),
        cloud_elements.CloudElementsServerError(status=502, request_id="req-502"),
    ],
    ids=["timeout", "dropped", "server-error"],
)
def test_an_ambiguous_create_that_did_not_happen_fails_without_resending_the_code(
    operator_client, remote, monkeypatch, error
):
    remote.fail_create(monkeypatch, error)
    monkeypatch.setattr(cloud_elements, "list_instances", lambda **kwargs: [])
    instance, state = start(operator_client, remote)

    callback(operator_client, state=state, code="code-1")

    # Finding nothing at once proves nothing: Cloud Elements may still be creating it.
    instance = reloaded(instance)
    assert instance.status == Status.UNKNOWN
    assert "Check the status again" in instance.last_error
    assert operator_client.post(f"/instances/{instance.uuid}/retry/").status_code == 302
    assert reloaded(instance).status == Status.UNKNOWN

    # Once the grace period is over, still nothing there means it was not created.
    ElementInstance.objects.filter(pk=instance.pk).update(
        updated_at=timezone.now() - timedelta(minutes=5)
    )
    operator_client.post(f"/instances/{instance.uuid}/reconcile/")
    instance = reloaded(instance)
    assert instance.status == Status.FAILED
    assert "was not created" in instance.last_error
    assert instance.remote_id is None
    assert callback(operator_client, state=state, code="code-1").status_code == 400
    assert len(remote.payloads) == 1


def test_a_timed_out_create_stays_unknown_until_it_can_be_checked(
    operator_client, remote, monkeypatch
):
    remote.fail_create(monkeypatch, cloud_elements.CloudElementsTimeoutError())

    def unreachable(**kwargs):
        raise cloud_elements.CloudElementsConnectionError()

    monkeypatch.setattr(cloud_elements, "list_instances", unreachable)
    instance, state = start(operator_client, remote)

    page = operator_client.get(CALLBACK, {"state": state, "code": "code-1"}, follow=True).text

    assert reloaded(instance).status == Status.UNKNOWN
    assert "Unknown (reconciling)" in page
    assert "Check status at Cloud Elements" in page

    found = cloud_elements.Instance(id=77002, name="Finance Dropbox", element_key="dropbox")
    monkeypatch.setattr(cloud_elements, "list_instances", lambda **kwargs: [found])
    monkeypatch.setattr(cloud_elements, "get_instance", lambda instance_id: found)
    response = operator_client.post(f"/instances/{instance.uuid}/reconcile/")

    assert response.status_code == 302
    instance = reloaded(instance)
    assert instance.status == Status.ACTIVE
    assert instance.remote_id == 77002
    assert len(remote.payloads) == 1


def test_an_unreachable_cloud_elements_keeps_the_draft_before_the_consent(
    operator_client, remote, monkeypatch
):
    def unreachable(**arguments):
        raise cloud_elements.CloudElementsConnectionError()

    monkeypatch.setattr(cloud_elements, "get_oauth_url", unreachable)
    data = form_data()

    response = operator_client.post(NEW, data, follow=True)

    instance = ElementInstance.objects.get(uuid=data["instance_uuid"])
    assert response.redirect_chain == [(instance.get_absolute_url(), 302)]
    assert "Your draft is saved" in response.text
    assert instance.status == Status.FAILED
    assert instance.oauth_api_secret == CLIENT_SECRET
    assert remote.payloads == []
