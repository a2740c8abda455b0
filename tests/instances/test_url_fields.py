"""A URL field's message says exactly what it accepts: an absolute https:// address, or http://
on this machine (localhost, 127.0.0.1, [::1]), which is accepted too. Issue 26, item 14."""

from __future__ import annotations

import pytest
from django import forms

from instances.forms import validate_callback_url

ACCEPTED = "https:// address, or http:// on localhost, 127.0.0.1 or [::1]"


@pytest.mark.parametrize(
    "value",
    ["example.com/callback", "ftp://example.com/callback", "https://", "http://example.com/cb"],
)
def test_a_refused_address_is_told_what_is_accepted(value):
    with pytest.raises(forms.ValidationError) as refused:
        validate_callback_url(value)

    assert ACCEPTED in refused.value.messages[0]


@pytest.mark.parametrize(
    "value",
    [
        "https://example.com/callback",
        "http://localhost:8000/callback",
        "http://127.0.0.1:8000/callback",
        "http://[::1]:8000/callback",
    ],
)
def test_what_the_message_promises_is_accepted(value):
    validate_callback_url(value)
