"""Creating an OAuth instance through the consent screen, when all goes well.

A valid form saves a draft, secrets encrypted, and sends the operator to the consent screen with
a fresh state of at least 256 bits, of which only a hash is stored; the callback with the code
then creates the instance at Cloud Elements (`POST /instances`, the same callback URL as the
consent) and announces it. Cloud Elements is faked at the client's seam (see consent_helpers.py).
"""

from __future__ import annotations

import html
import re

import pytest
from django.db import connection

from instances import forms
from instances.models import AuditEntry, ElementInstance, OAuthState
from tests.instances.consent_helpers import (
    CALLBACK,
    CLIENT_SECRET,
    CONSENT,
    NEW,
    SIGNATURE_KEY,
    Status,
    callback,
    form_data,
    raw_column,
    reloaded,
    start,
)

pytestmark = pytest.mark.usefixtures("fast_test_setup")


# --- Starting the consent -------------------------------------------------------------------------


def test_a_valid_form_saves_a_draft_and_redirects_to_the_consent_screen(operator_client, remote):
    data = form_data()
    response = operator_client.post(NEW, data)

    assert response.status_code == 302
    (call,) = remote.oauth_calls
    assert response["Location"] == CONSENT + "?state=" + call["state"]
    assert call["element_key"] == "dropbox"
    assert call["api_key"] == "app-key-123"
    assert call["api_secret"] == CLIENT_SECRET
    assert call["callback_url"] == forms.oauth_callback_url()
    instance = ElementInstance.objects.select_related("webhook").get(uuid=data["instance_uuid"])
    assert instance.status == Status.AUTHORIZING
    assert instance.remote_id is None
    assert instance.oauth_api_secret == CLIENT_SECRET
    assert instance.webhook.signature_key == SIGNATURE_KEY
    assert remote.payloads == []


def test_the_draft_keeps_its_secrets_encrypted(operator_client, remote):
    instance, _ = start(operator_client, remote)

    stored_secret = raw_column(ElementInstance, "oauth_api_secret", instance.pk)
    stored_key = raw_column(type(instance.webhook), "signature_key", instance.webhook.pk)
    assert CLIENT_SECRET not in stored_secret
    assert SIGNATURE_KEY not in stored_key
    assert reloaded(instance).oauth_api_secret == CLIENT_SECRET


def test_the_state_has_at_least_256_bits_and_is_new_every_time(operator_client, remote):
    for _ in range(3):
        start(operator_client, remote)

    for state in remote.states:
        assert re.fullmatch(r"[A-Za-z0-9_-]{43,}", state), state
        assert state != "dropbox"
    assert len(set(remote.states)) == 3


def test_only_a_hash_of_the_state_is_stored(operator_client, remote):
    instance, state = start(operator_client, remote)

    pending = OAuthState.objects.get(instance=instance)
    assert pending.state_hash == OAuthState.digest(state)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {OAuthState._meta.db_table}")
        stored = " ".join(str(value) for row in cursor.fetchall() for value in row)
    assert state not in stored
    assert operator_client.session.session_key not in stored


def test_the_same_callback_url_is_used_in_the_consent_and_the_payload(operator_client, remote):
    instance, state = start(operator_client, remote)
    callback(operator_client, state=state, code="code-1")

    (payload,) = remote.payloads
    assert payload["configuration"]["oauth.callback.url"] == remote.oauth_calls[0]["callback_url"]


# --- The callback ---------------------------------------------------------------------------------


def test_the_callback_creates_the_instance_with_the_code(operator_client, remote):
    instance, state = start(operator_client, remote)

    response = callback(operator_client, state=state, code="auth-code-0001")

    (payload,) = remote.payloads
    assert payload["providerData"] == {"code": "auth-code-0001"}
    assert payload["name"] == "Finance Dropbox"
    assert payload["configuration"]["oauth.api.secret"] == CLIENT_SECRET
    instance = reloaded(instance)
    assert instance.status == Status.ACTIVE
    assert instance.remote_id == 58991
    assert instance.remote_token == remote.tokens[0]
    assert remote.tokens[0] not in raw_column(ElementInstance, "remote_token", instance.pk)
    assert instance.audit_entries.filter(
        action=AuditEntry.Action.CREATED, outcome=AuditEntry.Outcome.SUCCESS
    ).exists()
    assert response.status_code == 302
    assert response["Location"] == instance.get_absolute_url()
    assert "code=" not in response["Location"]
    assert "state=" not in response["Location"]


def test_the_instance_page_announces_the_new_instance(operator_client, remote):
    _, state = start(operator_client, remote)
    response = operator_client.get(CALLBACK, {"state": state, "code": "c-1"}, follow=True)
    assert response.status_code == 200
    assert "is connected (Cloud Elements id 58991)" in html.unescape(response.text)
