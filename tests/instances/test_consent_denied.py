"""A consent that comes back with an error instead of a code (RFC 6749, section 4.1.2.1).

Whatever the provider's error, or none and no code, the draft is kept with everything typed, the
reason is recorded and shown (escaped), nothing is created at Cloud Elements, and the state is
used up all the same. Cloud Elements is faked at the client's seam (see consent_helpers.py).
"""

from __future__ import annotations

import re

import pytest

from instances.models import AuditEntry
from tests.instances.consent_helpers import (
    CALLBACK,
    CLIENT_SECRET,
    Status,
    callback,
    reloaded,
    start,
)

pytestmark = pytest.mark.usefixtures("fast_test_setup")


RFC_6749_ERRORS = [
    "access_denied",
    "invalid_request",
    "unauthorized_client",
    "unsupported_response_type",
    "invalid_scope",
    "server_error",
    "temporarily_unavailable",
]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        *[({"error": code}, code) for code in RFC_6749_ERRORS],
        ({"error": "mystery_error"}, "mystery_error"),
        ({}, "neither a code nor an error"),
        ({"error": "access_denied", "code": "code-despite-error"}, "access_denied"),
    ],
    ids=[*RFC_6749_ERRORS, "unknown-code", "neither-code-nor-error", "code-and-error"],
)
def test_a_provider_error_keeps_the_draft_and_says_why(operator_client, remote, params, expected):
    instance, state = start(operator_client, remote)

    response = callback(operator_client, state=state, **params)

    assert response.status_code == 302
    assert response["Location"] == instance.get_absolute_url()
    instance = reloaded(instance)
    assert instance.status == Status.DRAFT
    assert instance.remote_id is None
    assert expected in instance.last_error
    assert instance.oauth_api_secret == CLIENT_SECRET  # nothing typed is lost
    assert instance.audit_entries.filter(action=AuditEntry.Action.AUTHORIZATION_DENIED).exists()
    assert remote.payloads == []
    # Error answers carry the state too, and it is used up all the same.
    assert callback(operator_client, state=state, code="late-code").status_code == 400
    assert remote.payloads == []


def test_access_denied_is_explained_in_words(operator_client, remote):
    instance, state = start(operator_client, remote)
    callback(operator_client, state=state, error="access_denied")
    assert "Access was denied" in reloaded(instance).last_error


def test_an_error_description_is_shown_escaped(operator_client, remote):
    _, state = start(operator_client, remote)

    response = operator_client.get(
        CALLBACK,
        {
            "state": state,
            "error": "access_denied",
            "error_description": "<script>alert(1)</script>",
        },
        follow=True,
    )

    assert response.status_code == 200
    assert "<script>alert(1)</script>" not in response.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in response.text
    assert re.search(
        r'class="module aligned last-error"[^>]*>.*?&lt;script&gt;', response.text, re.S
    )
