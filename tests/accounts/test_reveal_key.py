"""Reveal the signature key: a POST, after the password (sudo mode), audited, never cached."""

from __future__ import annotations

import time

import pytest
from django.contrib.auth.signals import user_login_failed
from django.urls import reverse

from instances.accounts import sudo
from instances.models import AuditEntry, ElementInstance
from tests.conftest import PASSWORD

KEY = "signature-key-to-reveal-Qm42x"
REVEALED = AuditEntry.Action.KEY_REVEALED


@pytest.fixture
def keyed(make_instance) -> ElementInstance:
    instance = make_instance("Signed Dropbox", status=ElementInstance.Status.ACTIVE, remote_id=9)
    instance.webhook.enabled = True
    instance.webhook.signature_key = KEY
    instance.webhook.save()
    return instance


def reveal_url(instance: ElementInstance) -> str:
    return reverse("accounts:reveal_key", args=[instance.uuid])


def reveals(instance: ElementInstance) -> int:
    return instance.audit_entries.filter(action=REVEALED).count()


def test_the_instance_page_never_shows_the_key_but_offers_reveal(client, operator, keyed):
    client.force_login(operator)
    html = client.get(keyed.get_absolute_url()).text
    assert KEY not in html and KEY[:-4] not in html
    assert "••••m42x" in html
    assert f'action="{reveal_url(keyed)}"' in html


def test_a_get_never_reveals(client, operator, keyed):
    client.force_login(operator)
    response = client.get(reveal_url(keyed), follow=True)
    # Back to the instance page, which says how to reveal it (issue 26, item 10).
    assert response.redirect_chain == [(keyed.get_absolute_url(), 302)]
    assert KEY not in response.text
    assert reveals(keyed) == 0


def test_without_a_recent_password_it_asks_for_it(client, operator, keyed):
    client.force_login(operator)
    response = client.post(reveal_url(keyed))
    assert response.status_code == 200
    assert 'name="password"' in response.text
    assert KEY not in response.text
    assert "no-store" in response["Cache-Control"]
    assert reveals(keyed) == 0


def test_a_wrong_password_is_refused(client, operator, keyed):
    client.force_login(operator)
    response = client.post(reveal_url(keyed), {"password": "not my password"})
    assert response.status_code == 403
    assert "That is not your password" in response.text
    assert KEY not in response.text
    assert reveals(keyed) == 0


def test_a_blank_password_is_a_bad_request(client, operator, keyed):
    client.force_login(operator)
    response = client.post(reveal_url(keyed), {"password": ""})
    assert response.status_code == 400
    assert KEY not in response.text


def test_the_right_password_shows_the_key_uncached_and_audited(client, operator, keyed):
    client.force_login(operator)
    response = client.post(reveal_url(keyed), {"password": PASSWORD})
    assert response.status_code == 200
    assert f'<code id="signature-key" class="secret-value">{KEY}</code>' in response.text
    assert 'data-copy-target="signature-key"' in response.text
    assert "no-store" in response["Cache-Control"]
    entry = keyed.audit_entries.get(action=REVEALED)
    assert entry.actor == operator and KEY not in entry.detail


def test_within_the_window_it_does_not_ask_again(client, operator, keyed):
    client.force_login(operator)
    client.post(reveal_url(keyed), {"password": PASSWORD})
    response = client.post(reveal_url(keyed))
    assert KEY in response.text
    assert reveals(keyed) == 2


def test_after_the_window_it_asks_again(client, operator, keyed, settings):
    settings.SUDO_WINDOW_SECONDS = 600
    client.force_login(operator)
    client.post(reveal_url(keyed), {"password": PASSWORD})
    session = client.session
    session[sudo.CONFIRMED_AT] = time.time() - 601
    session.save()
    response = client.post(reveal_url(keyed))
    assert KEY not in response.text and 'name="password"' in response.text


def test_wrong_passwords_are_counted_and_then_refused_even_when_right(
    client, operator, keyed, settings
):
    # The session's own count, independent of the login lock-out (django-axes), tested below.
    settings.AXES_FAILURE_LIMIT = 100
    client.force_login(operator)
    for _ in range(sudo.MAX_FAILURES):
        assert client.post(reveal_url(keyed), {"password": "guess"}).status_code == 403
    response = client.post(reveal_url(keyed), {"password": PASSWORD})
    assert response.status_code == 429
    assert KEY not in response.text
    assert reveals(keyed) == 0


def test_a_wrong_password_reaches_the_authentication_signals(client, operator, keyed):
    """So that a lockout app listening to them (django-axes) counts it too."""
    seen = []

    def listener(sender, credentials, request=None, **kwargs):
        seen.append((credentials.get("username"), request))

    user_login_failed.connect(listener)
    try:
        client.force_login(operator)
        client.post(reveal_url(keyed), {"password": "guess"})
    finally:
        user_login_failed.disconnect(listener)
    assert len(seen) == 1
    assert seen[0][0] == "alice" and seen[0][1] is not None


def test_a_user_name_locked_at_the_login_page_is_refused_with_a_clear_429(
    client, operator, keyed, settings
):
    """django-axes refuses a locked name and address inside authenticate(): no bare 403."""
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post("/admin/login/", {"username": "alice", "password": "guess"})
    client.force_login(operator)
    response = client.post(reveal_url(keyed), {"password": PASSWORD})
    assert response.status_code == 429
    assert "locked" in response.text
    assert KEY not in response.text
    assert reveals(keyed) == 0


def test_a_view_only_user_gets_403_and_no_button(client, viewer, keyed):
    client.force_login(viewer)
    assert f'action="{reveal_url(keyed)}"' not in client.get(keyed.get_absolute_url()).text
    response = client.post(reveal_url(keyed), {"password": PASSWORD})
    assert response.status_code == 403
    assert KEY not in response.text


def test_an_instance_without_a_key_has_nothing_to_reveal(client, operator, make_instance):
    instance = make_instance()
    client.force_login(operator)
    response = client.post(reveal_url(instance), {"password": PASSWORD}, follow=True)
    assert "has no signature key to reveal" in response.text
    assert f'action="{reveal_url(instance)}"' not in response.text
