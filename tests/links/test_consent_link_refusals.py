"""A link that is spent, unknown or asked for too often is refused, and nothing is called.

An expired, revoked or used link answers 410 with the reason, on GET and POST, without calling
Cloud Elements (an expired one is recorded once); a consent started before a revocation cannot
complete, and of two browsers on one link only the first creates the instance. An unknown token
answers 404, and the link pages are rate-limited per client address (429).
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from instances.links import services as links
from instances.links.models import ConsentLink
from tests.links.link_helpers import CALLBACK, Action, actions, continue_to_dropbox, path

pytestmark = pytest.mark.django_db


def expire(link):
    ConsentLink.objects.filter(pk=link.pk).update(expires_at=timezone.now() - timedelta(hours=1))


def revoke(link):
    links.revoke_link(link=link, actor=None)


def use(link):
    ConsentLink.objects.filter(pk=link.pk).update(used_at=timezone.now())


@pytest.mark.parametrize(
    ("spoil", "words"),
    [(expire, "expired"), (revoke, "withdrawn"), (use, "already used")],
)
def test_an_expired_revoked_or_used_link_answers_410_and_calls_nothing(
    client, link, remote, spoil, words
):
    spoil(link)
    for response in (client.get(path(link)), client.post(path(link))):
        assert response.status_code == 410
        assert words in response.content.decode()
        assert response["Referrer-Policy"] == "no-referrer"
    assert remote.oauth_calls == [] and remote.payloads == []


def test_an_expired_link_is_recorded_once_when_opened(client, link):
    expire(link)
    client.get(path(link))
    client.get(path(link))
    assert actions(link.instance).count(Action.LINK_EXPIRED) == 1


def test_a_consent_started_before_a_revocation_cannot_complete(client, link, remote):
    state = continue_to_dropbox(client, link, remote)
    revoke(link)
    response = client.get(CALLBACK, {"state": state, "code": "code-1"})
    assert response.status_code == 410
    assert remote.payloads == []


def test_two_browsers_on_one_link_create_one_instance(link, remote):
    first, second = Client(), Client()
    state_1 = continue_to_dropbox(first, link, remote)
    state_2 = continue_to_dropbox(second, link, remote)

    first.get(CALLBACK, {"state": state_1, "code": "code-1"})
    response = second.get(CALLBACK, {"state": state_2, "code": "code-2"})

    assert response.status_code == 410
    assert "already used" in response.content.decode()
    assert len(remote.payloads) == 1


def test_an_unknown_token_answers_404(client):
    response = client.get("/connect/" + "x" * 43 + "/")
    assert response.status_code == 404
    assert "not valid" in response.content.decode()


def test_the_link_pages_are_rate_limited_per_client_address(client, settings, link):
    settings.CONSENT_LINK_RATE_LIMIT = 3
    codes = [client.get(path(link)).status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    limited = client.get(path(link))
    assert "Too many requests" in limited.content.decode()
    assert limited["Retry-After"] == "60"
    other = Client(REMOTE_ADDR="192.0.2.7")
    assert other.get(path(link)).status_code == 200
