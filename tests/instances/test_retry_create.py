"""Retrying a failed OAuth create.

Retry starts a fresh consent with a new state, and the instance is created with the new code;
a view-only user cannot retry, and an active instance is never retried. Cloud Elements is faked
at the client's seam (see consent_helpers.py).
"""

from __future__ import annotations

import pytest

from instances.cloud_elements import client as cloud_elements
from instances.models import OAuthState
from tests.instances.consent_helpers import CONSENT, Status, callback, reloaded, start

pytestmark = pytest.mark.usefixtures("fast_test_setup")


def test_retry_from_failed_starts_a_fresh_consent(operator_client, remote, monkeypatch):
    remote.fail_create(
        monkeypatch, cloud_elements.CloudElementsBadRequestError("Invalid code.", status=400)
    )
    instance, first_state = start(operator_client, remote)
    callback(operator_client, state=first_state, code="code-1")
    assert reloaded(instance).status == Status.FAILED

    response = operator_client.post(f"/instances/{instance.uuid}/retry/")

    assert response.status_code == 302
    second_state = remote.states[-1]
    assert second_state != first_state
    assert response["Location"] == CONSENT + "?state=" + second_state
    assert reloaded(instance).status == Status.AUTHORIZING

    monkeypatch.setattr(cloud_elements, "create_instance", remote.create_instance)
    assert callback(operator_client, state=second_state, code="code-2").status_code == 302
    assert reloaded(instance).status == Status.ACTIVE
    assert [p["providerData"]["code"] for p in remote.payloads] == ["code-1", "code-2"]


def test_a_view_only_user_cannot_retry(client, viewer, remote, make_instance):
    instance = make_instance(status=Status.FAILED, last_error="Invalid code.")
    client.force_login(viewer)

    response = client.post(f"/instances/{instance.uuid}/retry/")

    assert response.status_code == 403
    assert remote.oauth_calls == []
    assert remote.payloads == []
    assert reloaded(instance).status == Status.FAILED
    assert not OAuthState.objects.exists()


def test_an_active_instance_cannot_be_retried(operator_client, remote, make_instance):
    instance = make_instance(status=Status.ACTIVE, remote_id=58992)

    response = operator_client.post(f"/instances/{instance.uuid}/retry/")

    assert response.status_code == 302
    assert response["Location"] == instance.get_absolute_url()
    assert remote.oauth_calls == []
    assert reloaded(instance).status == Status.ACTIVE
