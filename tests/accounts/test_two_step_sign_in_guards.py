"""The two-step sign-in's guards, each of which a planted bug once removed unnoticed: the
password step expires after PENDING_SECONDS; a user made inactive between the password and the
code is not signed in; and after the code step and the enrolment step the browser goes only to
an address on this site, whatever `next` says (no open redirect). Issue 26, item 7."""

from __future__ import annotations

import time

import pytest
from django.test import Client

from instances.accounts import views as accounts
from tests.conftest import PASSWORD
from tests.two_factor_helpers import ENROL, VERIFY, enrol, log_in, totp_code

pytestmark = pytest.mark.django_db
ELSEWHERE = ["https://evil.example/", "//evil.example/", "https:///evil.example/"]


def signed_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


@pytest.fixture
def device(client, operator):
    """alice enrolled with an authenticator, and a signed-out client."""
    client.force_login(operator)
    enrolled, _ = enrol(client)
    client.logout()
    return enrolled


def test_the_password_step_expires(client, device, monkeypatch):
    log_in(client, "alice", PASSWORD)
    later = time.time() + accounts.PENDING_SECONDS + 1
    monkeypatch.setattr(accounts.time, "time", lambda: later)

    response = client.post(VERIFY, {"code": totp_code(device, steps_ahead=1)})

    assert response.status_code == 302 and response["Location"] == "/admin/login/"
    assert not signed_in(client)


def test_the_password_step_holds_until_it_expires(client, device, monkeypatch):
    log_in(client, "alice", PASSWORD)
    later = time.time() + accounts.PENDING_SECONDS - 30
    monkeypatch.setattr(accounts.time, "time", lambda: later)

    response = client.post(VERIFY, {"code": totp_code(device, steps_ahead=1)})

    assert response["Location"] == "/instances/" and signed_in(client)


def test_a_user_made_inactive_after_the_password_is_not_signed_in(client, device, operator):
    log_in(client, "alice", PASSWORD)
    operator.is_active = False
    operator.save()

    response = client.post(VERIFY, {"code": totp_code(device, steps_ahead=1)})

    assert response.status_code == 302 and response["Location"] == "/admin/login/"
    assert not signed_in(client)


@pytest.mark.parametrize("elsewhere", ELSEWHERE)
def test_after_the_code_the_browser_stays_on_this_site(client, device, elsewhere):
    log_in(client, "alice", PASSWORD, next_url=elsewhere)

    response = client.post(VERIFY, {"code": totp_code(device, steps_ahead=1)})

    assert signed_in(client)
    assert response["Location"] == "/instances/"


@pytest.mark.parametrize("elsewhere", ELSEWHERE)
def test_a_session_owing_its_code_goes_back_only_to_this_site(operator, device, elsewhere):
    # Signed in before enrolling: the code page takes `next` from the address itself.
    client = Client()
    client.force_login(operator)

    response = client.post(f"{VERIFY}?next={elsewhere}", {"code": totp_code(device, steps_ahead=1)})

    assert response.status_code == 302 and response["Location"] == "/instances/"


@pytest.mark.parametrize("elsewhere", ELSEWHERE)
def test_after_enrolment_the_way_on_stays_on_this_site(client, operator, elsewhere):
    client.force_login(operator)
    client.get(f"{ENROL}?next={elsewhere}")
    pending = operator.authenticator_set.get(confirmed=False)

    done = client.post(f"{ENROL}?next={elsewhere}", {"code": totp_code(pending)})

    assert done.status_code == 200 and done.context["next"] == "/instances/"
    assert "evil.example" not in done.text
