"""The OAuth callback honours a state only once, only in the session that started the consent,
and only for ten minutes.

A replayed, missing, unknown, foreign or expired state is refused (400 or 403) and nothing is
sent to Cloud Elements; a forged callback from another session does not use up the real consent.
Cloud Elements is faked at the client's seam (see consent_helpers.py).
"""

from __future__ import annotations

import html
import secrets
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from instances.models import OAuthState
from tests.instances.consent_helpers import Status, callback, reloaded, start

pytestmark = pytest.mark.usefixtures("fast_test_setup")


def test_it_rejects_a_replayed_state(operator_client, remote):
    _, state = start(operator_client, remote)
    assert callback(operator_client, state=state, code="code-1").status_code == 302

    response = callback(operator_client, state=state, code="code-1")

    assert response.status_code == 400
    assert "already used" in response.text
    assert len(remote.payloads) == 1


def test_a_replay_after_success_says_already_connected_not_retry(operator_client, remote):
    _, state = start(operator_client, remote)
    callback(operator_client, state=state, code="code-1")

    response = callback(operator_client, state=state, code="code-1")

    page = html.unescape(response.text)
    assert "“Finance Dropbox” is already connected (Cloud Elements id 58991)" in page
    assert "Retry" not in page
    assert len(remote.payloads) == 1


def test_it_rejects_a_callback_without_a_state(operator_client, remote):
    instance, _ = start(operator_client, remote)

    response = callback(operator_client, code="code-1")

    assert response.status_code == 400
    assert "without a state" in response.text
    assert remote.payloads == []
    assert reloaded(instance).status == Status.AUTHORIZING


def test_it_rejects_an_unknown_state(operator_client, remote):
    instance, _ = start(operator_client, remote)

    response = callback(operator_client, state=secrets.token_urlsafe(32), code="code-1")

    assert response.status_code == 400
    assert "unknown state" in response.text
    assert remote.payloads == []
    assert reloaded(instance).status == Status.AUTHORIZING


@pytest.mark.parametrize("who", ["same user", "another user"])
def test_it_rejects_a_state_from_another_session(operator_client, remote, django_user_model, who):
    instance, state = start(operator_client, remote)
    other = Client()
    if who == "same user":
        other.force_login(django_user_model.objects.get(username="alice"))
    else:
        other.force_login(django_user_model.objects.create_superuser("bob", "b@example.com", "x"))

    response = callback(other, state=state, code="code-from-elsewhere")

    assert response.status_code == 403
    assert "another browser session" in response.text
    assert remote.payloads == []
    assert reloaded(instance).status == Status.AUTHORIZING


def test_a_forged_callback_does_not_use_up_the_real_consent(operator_client, operator, remote):
    instance, state = start(operator_client, remote)
    intruder = Client()
    intruder.force_login(operator)
    assert callback(intruder, state=state, code="attacker-code").status_code == 403

    assert callback(operator_client, state=state, code="real-code").status_code == 302

    assert [p["providerData"]["code"] for p in remote.payloads] == ["real-code"]
    assert reloaded(instance).status == Status.ACTIVE


def test_it_rejects_an_expired_state(operator_client, remote):
    instance, state = start(operator_client, remote)
    OAuthState.objects.filter(instance=instance).update(
        created_at=timezone.now() - timedelta(minutes=11)
    )

    response = callback(operator_client, state=state, code="code-1")

    assert response.status_code == 400
    assert "expired" in response.text
    assert remote.payloads == []
    assert reloaded(instance).remote_id is None


def test_a_state_nine_minutes_old_is_still_accepted(operator_client, remote):
    instance, state = start(operator_client, remote)
    OAuthState.objects.filter(instance=instance).update(
        created_at=timezone.now() - timedelta(minutes=9)
    )

    assert callback(operator_client, state=state, code="code-1").status_code == 302
    assert reloaded(instance).status == Status.ACTIVE
