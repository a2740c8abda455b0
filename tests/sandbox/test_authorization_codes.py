"""The code the consent screen issues is redeemed once, by `POST /instances`, for its own app.

A code is single use, bound to the app key, secret and redirect URI it was issued for, and
expires; an unknown, missing, replayed, foreign or expired code is refused with a 400 (the
status is the sandbox's choice: the reference leaves it UNCONFIRMED) and creates nothing.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from instances.sandbox.models import SandboxAuthCode, SandboxInstance
from tests.sandbox.contract import (
    assert_error,
    get,
    instance_body,
    new_code,
    post_json,
)

pytestmark = pytest.mark.django_db


def test_a_code_is_single_use(client):
    # The sandbox's choice: 400 (the status for a bad code is UNCONFIRMED, section 4).
    code = new_code(client)
    assert post_json(client, "/instances", instance_body(code)).status_code == 200

    replay = post_json(client, "/instances", instance_body(code, name="Second"))

    assert_error(replay, 400)
    assert SandboxInstance.objects.count() == 1
    assert [i["name"] for i in get(client, "/instances").json()] == ["Finance Dropbox"]


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("oauth.api.key", "another-app-key"),
        ("oauth.callback.url", "http://127.0.0.1:8000/another/callback/"),
        ("oauth.api.secret", "not-the-app-secret"),
    ],
)
def test_a_code_is_bound_to_its_app_and_redirect_uri(client, key, value):
    """Dropbox's rule (section 7: redirect_uri "must be the exact URI registered"); the 400 for
    a bad code is the sandbox's choice: the status is UNCONFIRMED (section 4, Errors)."""
    body = instance_body(new_code(client))
    body["configuration"][key] = value

    response = post_json(client, "/instances", body)

    assert_error(response, 400)
    assert not SandboxInstance.objects.exists()


def test_an_unknown_code_is_rejected(client):
    # The sandbox's choice: 400 (the status for a bad code is UNCONFIRMED, section 4).
    new_code(client)  # the app exists; only the code is wrong

    response = post_json(client, "/instances", instance_body("no-such-code"))

    assert_error(response, 400)
    assert not SandboxInstance.objects.exists()


def test_a_missing_code_is_rejected_naming_it(client):
    new_code(client)
    body = instance_body(None)
    del body["providerData"]

    response = post_json(client, "/instances", body)

    assert_error(response, 400, naming="code")
    assert not SandboxInstance.objects.exists()


def test_an_expired_code_is_rejected(client):
    # The sandbox's choice: 400 and a 10-minute code lifetime (neither is documented).
    code = new_code(client)
    SandboxAuthCode.objects.filter(code=code).update(
        issued_at=datetime.now(UTC) - timedelta(minutes=11)
    )

    response = post_json(client, "/instances", instance_body(code))

    assert_error(response, 400)
    assert not SandboxInstance.objects.exists()
