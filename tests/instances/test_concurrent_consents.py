"""Several consents in flight at once.

Two consents started in one session both complete, each with its own code; a session keeps at
most ten pending consents (the oldest is dropped); and a second consent for an instance that has
since become active neither creates it a second time nor, if denied, undoes it. Cloud Elements is
faked at the client's seam (see consent_helpers.py).
"""

from __future__ import annotations

import pytest

from tests.instances.consent_helpers import Status, callback, reloaded, start

pytestmark = pytest.mark.usefixtures("fast_test_setup")


def test_two_consents_in_one_session_both_complete(operator_client, remote):
    first, first_state = start(operator_client, remote, name="First Dropbox")
    second, second_state = start(operator_client, remote, name="Second Dropbox")

    assert callback(operator_client, state=second_state, code="code-second").status_code == 302
    assert callback(operator_client, state=first_state, code="code-first").status_code == 302

    sent = {p["name"]: p["providerData"]["code"] for p in remote.payloads}
    assert sent == {"First Dropbox": "code-first", "Second Dropbox": "code-second"}
    assert reloaded(first).status == Status.ACTIVE
    assert reloaded(second).status == Status.ACTIVE
    assert reloaded(first).remote_id != reloaded(second).remote_id


def test_a_session_keeps_at_most_ten_pending_consents(operator_client, remote):
    states = [start(operator_client, remote, name=f"Dropbox {n}")[1] for n in range(11)]

    assert callback(operator_client, state=states[0], code="code-0").status_code == 400
    assert callback(operator_client, state=states[1], code="code-1").status_code == 302
    assert callback(operator_client, state=states[10], code="code-10").status_code == 302
    assert [p["providerData"]["code"] for p in remote.payloads] == ["code-1", "code-10"]


def test_a_second_consent_for_an_active_instance_never_creates_it_twice(operator_client, remote):
    instance, first_state = start(operator_client, remote)
    assert operator_client.post(f"/instances/{instance.uuid}/retry/").status_code == 302
    second_state = remote.states[-1]
    assert callback(operator_client, state=first_state, code="code-1").status_code == 302

    response = callback(operator_client, state=second_state, code="code-2")

    assert response.status_code == 400
    assert "already being created" in response.text
    assert [p["providerData"]["code"] for p in remote.payloads] == ["code-1"]
    assert reloaded(instance).status == Status.ACTIVE


def test_a_late_denial_leaves_an_active_instance_active(operator_client, remote):
    instance, first_state = start(operator_client, remote)
    assert operator_client.post(f"/instances/{instance.uuid}/retry/").status_code == 302
    second_state = remote.states[-1]
    assert callback(operator_client, state=first_state, code="code-1").status_code == 302

    callback(operator_client, state=second_state, error="access_denied")

    instance = reloaded(instance)
    assert instance.status == Status.ACTIVE
    assert instance.remote_id == 58991
    assert len(remote.payloads) == 1
