"""Two doors that must stay shut (issue 10, point 15): the reconcile button for a user who may
only view, and a signed-out OAuth callback, whose code and state must never reach the login URL
(and from there browser history, logs and the Referer of the next page)."""

from __future__ import annotations

from urllib.parse import unquote

import pytest
from django.test import Client
from django.urls import reverse

from instances.cloud_elements import client as ce
from instances.models import AuditEntry, ElementInstance, OAuthState
from tests.instances.consent_helpers import CALLBACK, FakeCloudElements, start

Status = ElementInstance.Status
CODE = "code-Vt5Lq2-not-for-the-login-url"
STATE = "state-Gp8Zr4-not-for-the-login-url"


@pytest.fixture
def asked(monkeypatch) -> list[str]:
    """Record every Cloud Elements call a reconcile could make."""
    calls: list[str] = []

    def list_instances(**kwargs):
        calls.append("list_instances")
        return []

    def get_instance(instance_id):
        calls.append("get_instance")
        raise ce.CloudElementsNotFoundError()

    monkeypatch.setattr(ce, "list_instances", list_instances)
    monkeypatch.setattr(ce, "get_instance", get_instance)
    return calls


@pytest.fixture
def unknown(make_instance) -> ElementInstance:
    return make_instance("Lost Answer", status=Status.UNKNOWN, last_error="No answer yet.")


def test_a_view_only_user_cannot_reconcile_and_nothing_is_sent(client, viewer, unknown, asked):
    client.force_login(viewer)

    response = client.post(reverse("instances:reconcile", args=[unknown.uuid]))

    assert response.status_code == 403
    assert asked == []
    fresh = ElementInstance.objects.get(pk=unknown.pk)
    assert (fresh.status, fresh.last_error) == (Status.UNKNOWN, "No answer yet.")
    assert not AuditEntry.objects.filter(instance=unknown).exists()


def test_a_non_staff_user_cannot_reconcile_either(client, outsider, unknown, asked):
    client.force_login(outsider)

    response = client.post(reverse("instances:reconcile", args=[unknown.uuid]))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))
    assert asked == []


def test_an_operator_may_reconcile(client, operator, unknown, asked):
    client.force_login(operator)

    response = client.post(reverse("instances:reconcile", args=[unknown.uuid]))

    assert response.status_code == 302
    assert asked == ["list_instances"]


def assert_login_without_code_or_state(response) -> None:
    assert response.status_code == 302
    location = unquote(unquote(response["Location"]))
    assert location == reverse("admin:login") + "?next=" + reverse("instances:index")
    for secret in (CODE, STATE, "code=", "state="):
        assert secret not in location


def test_a_signed_out_callback_never_carries_code_and_state_into_the_login_url(client, db):
    response = client.get(CALLBACK, {"code": CODE, "state": STATE})

    assert_login_without_code_or_state(response)


def test_a_non_staff_callback_never_carries_them_either(client, outsider):
    client.force_login(outsider)

    response = client.get(CALLBACK, {"code": CODE, "state": STATE, "error": "x"})

    assert_login_without_code_or_state(response)


def test_a_signed_out_callback_does_not_use_up_the_operators_consent(
    client, operator, monkeypatch, settings
):
    settings.CLOUD_ELEMENTS_BASE_URL = "http://127.0.0.1:9/elements/api-v2"
    remote = FakeCloudElements()
    monkeypatch.setattr(ce, "get_oauth_url", remote.get_oauth_url)
    monkeypatch.setattr(ce, "create_instance", remote.create_instance)
    client.force_login(operator)
    instance, state = start(client, remote)
    stranger = Client()

    assert_login_without_code_or_state(stranger.get(CALLBACK, {"code": CODE, "state": state}))
    assert OAuthState.objects.filter(instance=instance, used_at__isnull=True).exists()

    assert client.get(CALLBACK, {"code": "code-1", "state": state}).status_code == 302
    assert ElementInstance.objects.get(pk=instance.pk).status == Status.ACTIVE
    assert [p["providerData"]["code"] for p in remote.payloads] == ["code-1"]
