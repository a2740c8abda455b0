"""Two-factor applies to the sandbox's dashboard actions: only the sandbox's platform API (the
Cloud Elements stand-in, authenticated by its own header), its identity proof and its Dropbox
consent screen (the account owner's, with no login here) are exempt. A user who owes a second
factor cannot post a simulated event, which would be stored as Verified. Issue 26, item 3."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from instances.events.models import EventNotification
from instances.sandbox.models import SandboxDelivery
from tests.two_factor_helpers import ENROL, VERIFY, enrol

pytestmark = pytest.mark.django_db
SIMULATE = {"event_type": "CREATED", "path": "/Reports/q3.pdf", "next": "/instances/"}


@pytest.fixture(autouse=True)
def required(settings):
    settings.REQUIRE_TWO_FACTOR = True


def test_an_unenrolled_operator_cannot_simulate_an_event(client, operator):
    client.force_login(operator)

    response = client.post(reverse("sandbox:simulate", args=[1]), SIMULATE)

    assert response.status_code == 302
    assert response["Location"].startswith(ENROL)
    assert not SandboxDelivery.objects.exists() and not EventNotification.objects.exists()


def test_a_session_opened_before_enrolment_must_give_its_code_to_simulate(operator):
    before = Client()
    before.force_login(operator)
    enrol(_signed_in(operator))

    response = before.post(reverse("sandbox:simulate", args=[1]), SIMULATE)

    assert response.status_code == 302
    assert response["Location"].startswith(VERIFY)
    assert not SandboxDelivery.objects.exists()


def _signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.parametrize(
    "url, status",
    [
        ("/sandbox/elements/api-v2/instances", 401),  # its own User/Organization header
        ("/sandbox/identity?nonce=" + "n" * 20, 200),
        ("/sandbox/providers/dropbox/oauth2/authorize?client_id=nobody", 400),
    ],
)
def test_the_platform_api_identity_and_consent_screen_stay_exempt(client, operator, url, status):
    client.force_login(operator)

    assert client.get(url).status_code == status
