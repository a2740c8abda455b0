"""Two-factor authentication: enrolment with a real TOTP code, then a second sign-in step.

The codes are computed here from the device's secret, as an authenticator app would.
"""

from __future__ import annotations

import json
import re

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from instances.accounts.models import Authenticator, RecoveryCode
from instances.events.models import EventNotification
from instances.models import ElementInstance
from tests.conftest import PASSWORD
from tests.two_factor_helpers import ENROL, VERIFY, enrol, log_in, totp_code, wrong_code


def signed_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


@pytest.fixture
def enrolled(client, operator):
    """alice with an authenticator; returns (device, recovery codes) and a signed-out client."""
    client.force_login(operator)
    device, codes = enrol(client)
    client.logout()
    return device, codes


def test_enrolment_shows_the_secret_as_a_qr_code_and_as_text(client, operator):
    client.force_login(operator)
    page = client.get(ENROL)
    assert page.status_code == 200 and 'id="site-name"' in page.text
    device = Authenticator.objects.get(user=operator, confirmed=False)
    secret = page.context["secret"].replace(" ", "")
    assert re.fullmatch(r"[A-Z2-7]{32}", secret)
    assert secret in page.text.replace(" ", "")
    assert 'src="data:image/svg+xml' in page.text
    # Reloading keeps the same secret, so a code scanned before a reload still works.
    assert client.get(ENROL).context["secret"] == page.context["secret"]
    assert Authenticator.objects.filter(user=operator).count() == 1
    assert "no-store" in page["Cache-Control"] or "max-age=0" in page["Cache-Control"]
    assert device.name == "Authenticator"


def test_enrolment_with_a_real_code_gives_ten_recovery_codes_once(client, operator):
    client.force_login(operator)
    client.get(ENROL)
    device = Authenticator.objects.get(user=operator, confirmed=False)
    done = client.post(ENROL, {"code": totp_code(device)})
    codes = re.findall(r"<li><code>([a-z2-7]{8})</code></li>", done.text)
    assert len(codes) == 10 and len(set(codes)) == 10
    assert RecoveryCode.objects.count() == 10
    assert all(code not in str(RecoveryCode.objects.values_list("digest")) for code in codes)

    later = client.get(ENROL)
    assert "10 unused recovery codes left" in later.text
    assert not any(code in later.text for code in codes)


def test_enrolment_refuses_a_wrong_code(client, operator):
    client.force_login(operator)
    client.get(ENROL)
    device = Authenticator.objects.get(user=operator, confirmed=False)
    refused = client.post(ENROL, {"code": wrong_code(device)})
    assert "That code is not valid" in refused.text
    device.refresh_from_db()
    assert not device.confirmed and not RecoveryCode.objects.exists()


def test_signing_in_asks_for_the_code_after_the_password(client, enrolled):
    device, _ = enrolled
    first = log_in(client, "alice", PASSWORD)
    assert first.status_code == 302 and first["Location"] == VERIFY
    assert not signed_in(client), "a password alone signs nobody in"
    assert client.get("/instances/")["Location"].startswith("/admin/login/")
    assert client.get("/admin/")["Location"].startswith("/admin/login/")

    step = client.get(VERIFY)
    assert step.status_code == 200 and 'name="code"' in step.text

    second = client.post(VERIFY, {"code": totp_code(device, steps_ahead=1)})
    assert second.status_code == 302 and second["Location"] == "/instances/"
    assert signed_in(client)
    assert client.get("/instances/").status_code == 200


def test_a_wrong_code_is_refused_and_the_next_try_must_wait(client, enrolled):
    device, _ = enrolled
    log_in(client, "alice", PASSWORD)
    refused = client.post(VERIFY, {"code": wrong_code(device)})
    assert refused.status_code == 200 and "That code is not valid" in refused.text
    assert not signed_in(client)
    # django-otp's throttling: right after a failure even the right code must wait.
    throttled = client.post(VERIFY, {"code": totp_code(device, steps_ahead=1)})
    assert throttled.status_code == 429 and "before the next code" in throttled.text
    assert not signed_in(client)


def test_a_recovery_code_signs_in_once(client, enrolled):
    _, codes = enrolled
    log_in(client, "alice", PASSWORD)
    assert client.post(VERIFY, {"code": codes[0].upper()})["Location"] == "/instances/"
    assert signed_in(client)
    client.logout()

    log_in(client, "alice", PASSWORD)
    again = client.post(VERIFY, {"code": codes[0]})
    assert again.status_code == 200 and "That recovery code is not valid" in again.text
    assert not signed_in(client)
    assert RecoveryCode.objects.count() == 9


def test_the_code_step_without_a_password_first_leads_to_the_login(client, enrolled):
    response = client.post(VERIFY, {"code": "123456"})
    assert response.status_code == 302 and response["Location"] == "/admin/login/"


def test_a_session_signed_in_before_enrolment_must_give_a_code(client, operator):
    earlier = Client()
    earlier.force_login(operator)
    client.force_login(operator)
    device, _ = enrol(client)

    sent = earlier.get("/instances/")
    assert sent.status_code == 302 and sent["Location"].startswith(VERIFY)
    assert earlier.get(ENROL)["Location"].startswith(VERIFY), "no second enrolment"
    back = earlier.post(VERIFY + "?next=/instances/", {"code": totp_code(device, steps_ahead=1)})
    assert back["Location"] == "/instances/"
    assert earlier.get("/instances/").status_code == 200


def test_turning_it_off_needs_the_password(client, operator):
    client.force_login(operator)
    device, _ = enrol(client)
    refused = client.post("/account/two-factor/reset/", {"password": "not it"})
    assert refused.status_code == 400 and "That is not your password" in refused.text
    assert Authenticator.objects.filter(pk=device.pk, confirmed=True).exists()

    done = client.post("/account/two-factor/reset/", {"password": PASSWORD}, follow=True)
    assert "Two-factor authentication is off" in done.text
    assert not Authenticator.objects.filter(confirmed=True).exists()
    assert not RecoveryCode.objects.exists()
    assert 'src="data:image/svg+xml' in done.text, "the page offers a new enrolment"
    assert done.context["secret"].replace(" ", "") not in device.config_url


class TestRequired:
    @pytest.fixture(autouse=True)
    def required(self, settings):
        settings.REQUIRE_TWO_FACTOR = True

    @pytest.mark.parametrize("url", ["/instances/", "/admin/", "/instances/new/"])
    def test_an_unenrolled_staff_user_is_sent_to_enrolment(self, client, operator, url):
        client.force_login(operator)
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"] == f"{ENROL}?next={url.replace('/', '%2F')}"
        assert "this dashboard requires it" in client.get(response["Location"]).text

    def test_a_verified_user_goes_through(self, client, operator):
        client.force_login(operator)
        enrol(client)
        assert client.get("/instances/").status_code == 200
        assert client.get("/admin/").status_code == 200

    def test_it_applies_after_a_password_sign_in_too(self, client, operator):
        log_in(client, "alice", PASSWORD)
        assert client.get("/instances/")["Location"].startswith(ENROL)

    def test_the_health_check_webhooks_and_logout_are_not_affected(
        self, client, operator, make_instance
    ):
        client.force_login(operator)
        assert client.get("/healthz").status_code == 200
        instance = make_instance(status=ElementInstance.Status.ACTIVE, remote_id=2022)
        body = json.dumps(
            {
                "message": {
                    "eventId": "evt-1",
                    "instanceId": 2022,
                    "elementKey": "dropbox",
                    "events": [{"eventType": "CREATED", "objectId": "/a"}],
                }
            }
        ).encode()
        delivery = client.post(
            f"/webhooks/{instance.uuid}/", data=body, content_type="application/json"
        )
        assert delivery.status_code == 200
        assert EventNotification.objects.filter(instance=instance).count() == 1
        sandbox = client.get("/sandbox/elements/api-v2/instances")
        assert sandbox.status_code == 401, "the sandbox answers as Cloud Elements would"
        assert client.post("/admin/logout/").status_code == 200
        assert not signed_in(client)


def test_ensure_operator_says_where_to_enrol(db, settings, capsys):
    settings.SITE_URL = "http://127.0.0.1:8000"
    call_command("ensure_operator")
    out = capsys.readouterr().out
    assert "http://127.0.0.1:8000/account/two-factor/" in out
    call_command("ensure_operator")
    assert "http://127.0.0.1:8000/account/two-factor/" in capsys.readouterr().out


def test_a_superuser_resets_a_lost_authenticator_in_the_admin_without_seeing_secrets(
    client, operator
):
    client.force_login(operator)
    device, codes = enrol(client)
    root = Client()
    root.force_login(User.objects.create_superuser("root", "r@example.com", PASSWORD))

    totp_page = root.get(reverse("admin:accounts_authenticator_change", args=[device.pk]))
    static = operator.recoverycodes_set.get()
    static_page = root.get(reverse("admin:accounts_recoverycodes_change", args=[static.pk]))
    assert totp_page.status_code == static_page.status_code == 200
    assert device.key not in totp_page.text and secret_of(device) not in totp_page.text
    assert not any(code in static_page.text for code in codes)

    for name, pk in [("accounts_authenticator", device.pk), ("accounts_recoverycodes", static.pk)]:
        root.post(reverse(f"admin:{name}_delete", args=[pk]), {"post": "yes"})
    client.logout()
    assert log_in(client, "alice", PASSWORD)["Location"] == "/instances/"


def secret_of(device: Authenticator) -> str:
    from base64 import b32encode

    return b32encode(device.bin_key).decode()


def test_signing_in_as_an_enrolled_user_over_another_session_asks_for_their_code(
    client, operator, viewer
):
    client.force_login(operator)
    device, _ = enrol(client)
    client.logout()
    client.force_login(viewer)
    assert log_in(client, "alice", PASSWORD)["Location"] == VERIFY
    assert not signed_in(client), "victor's session ended with the password step"
    done = client.post(VERIFY, {"code": totp_code(device, steps_ahead=1)})
    assert done["Location"] == "/instances/"
    assert client.session["_auth_user_id"] == str(operator.pk)
