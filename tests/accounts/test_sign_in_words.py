"""What the code step says is true: one wrong code asks to wait (it is not "too many"), and a
recovery code used before says so (not "check your authenticator app"). Issue 26, item 12."""

from __future__ import annotations

import pytest

from tests.conftest import PASSWORD
from tests.two_factor_helpers import VERIFY, enrol, log_in, totp_code, wrong_code

pytestmark = pytest.mark.django_db


@pytest.fixture
def enrolled(client, operator):
    client.force_login(operator)
    device, codes = enrol(client)
    client.logout()
    return device, codes


def test_after_one_wrong_code_the_wait_is_explained_not_called_too_many(client, enrolled):
    device, _ = enrolled
    log_in(client, "alice", PASSWORD)
    client.post(VERIFY, {"code": wrong_code(device)})

    throttled = client.post(VERIFY, {"code": totp_code(device, steps_ahead=1)})

    assert throttled.status_code == 429
    assert "Too many" not in throttled.text
    assert "before the next code" in throttled.text


def test_a_used_recovery_code_says_it_works_once(client, enrolled):
    _, codes = enrolled
    log_in(client, "alice", PASSWORD)
    client.post(VERIFY, {"code": codes[0]})
    client.logout()
    log_in(client, "alice", PASSWORD)

    again = client.post(VERIFY, {"code": codes[0]})

    assert "each one works once" in again.text
    assert "Check your authenticator app" not in again.text
