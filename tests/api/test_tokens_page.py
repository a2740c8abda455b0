"""The API tokens page (/account/api-tokens/): a signed-in user makes a token, shown once (only
its prefix afterwards; the database keeps its SHA-256, never the token), sees when and from
where it was last used, and revokes it; nobody revokes another user's token."""

from __future__ import annotations

import hashlib
import html
import re
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from instances.api.models import ApiToken
from tests.api.conftest import bearer, live, ok, refused

PAGE = "/account/api-tokens/"
SHOWN = re.compile(r'<code id="new-token">([^<]+)</code>')


def revoke_url(token: ApiToken) -> str:
    return f"/account/api-tokens/{token.pk}/revoke/"


def stored_text() -> str:
    """Every column of every token row, as the database holds them."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {ApiToken._meta.db_table}")  # noqa: S608 (a model's table)
        return repr(cursor.fetchall())


@live
def test_a_token_is_shown_once_and_kept_only_as_its_hash(client, operator, api):
    client.force_login(operator)

    made = client.post(
        PAGE, {"name": "  CI   deploy ", "scopes": ["read", "write"], "expires_in_days": "30"}
    )

    assert made.status_code == 200
    assert made["Cache-Control"] == "no-store"
    secret = html.unescape(SHOWN.search(made.text).group(1))
    assert re.fullmatch(r"ced_[A-Za-z0-9_-]{43}", secret)
    token = ApiToken.objects.get()
    assert token.user == operator and token.name == "CI deploy"
    assert token.token_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert token.prefix == secret[:12]
    assert token.scopes == ["read", "write"]
    assert abs(token.expires_at - (timezone.now() + timedelta(days=30))) < timedelta(minutes=1)
    assert secret not in stored_text()
    assert secret[12:] not in stored_text()

    # The next page shows its prefix only.
    again = client.get(PAGE)
    assert again.status_code == 200
    assert secret not in again.text and secret[12:] not in again.text
    assert f"<code>{token.prefix}…</code>" in again.text
    assert 'id="new-token"' not in again.text

    # The token shown works, as its user.
    assert ok(api(secret).get("/instances"))["items"] == []


@live
def test_last_use_is_recorded_at_most_once_a_minute(client, operator, api):
    secret = bearer(operator, name="poller")
    token = ApiToken.objects.get()
    assert token.last_used_at is None and token.last_used_from is None
    client.force_login(operator)
    assert "never" in client.get(PAGE).text

    started = timezone.now()
    ok(api(secret).get("/instances"))

    token.refresh_from_db()
    assert token.last_used_from == "127.0.0.1"
    first_use = token.last_used_at
    assert started <= first_use <= timezone.now()
    page = client.get(PAGE).text
    assert f"from {token.last_used_from}" in page
    ok(api(secret).get("/instances"))
    token.refresh_from_db()
    assert token.last_used_at == first_use  # not written on every request
    # A token refused for its scope was still used (it authenticated); an unknown one was not.
    other = bearer(operator, "read", name="reader")
    refused(api(other).post("/jobs", json={"kind": "sync", "filter": {}}), 403)
    assert ApiToken.objects.get(name="reader").last_used_at is not None
    refused(api(secret[:-1] + "x").get("/instances"), 401)
    assert ApiToken.objects.filter(last_used_at__isnull=False).count() == 2


@pytest.mark.django_db
def test_what_the_form_refuses(client, operator):
    client.force_login(operator)
    for data in [
        {"name": "", "scopes": ["read"]},
        {"name": "   ", "scopes": ["read"]},
        {"name": "No scope"},
        {"name": "Bad scope", "scopes": ["admin"]},
        {"name": "Too short", "scopes": ["read"], "expires_in_days": "0"},
        {"name": "Too long", "scopes": ["read"], "expires_in_days": "3651"},
    ]:
        response = client.post(PAGE, data)
        assert response.status_code == 400, data
        assert 'id="new-token"' not in response.text
    assert not ApiToken.objects.exists()


@pytest.mark.django_db
def test_revoke_a_token(client, operator):
    secret = bearer(operator, name="old script")
    token = ApiToken.objects.get()
    client.force_login(operator)
    assert f'action="{revoke_url(token)}"' in client.get(PAGE).text

    response = client.post(revoke_url(token))

    assert response.status_code == 302 and response["Location"] == PAGE
    token.refresh_from_db()
    assert token.revoked_at is not None and token.state == "revoked"
    page = client.get(PAGE).text
    assert "Revoked old script" in page
    assert '<td class="token-state">revoked</td>' in page
    assert f'action="{revoke_url(token)}"' not in page
    # Again: said so, nothing else changes.
    revoked_at = token.revoked_at
    again = client.post(revoke_url(token), follow=True)
    assert "This token was already revoked." in again.text
    token.refresh_from_db()
    assert token.revoked_at == revoked_at
    assert secret not in page


@pytest.mark.django_db
def test_another_users_token_cannot_be_revoked_or_seen(client, operator, viewer):
    bearer(viewer, "read", name="victors script")
    theirs = ApiToken.objects.get()
    client.force_login(operator)

    assert client.post(revoke_url(theirs)).status_code == 404

    theirs.refresh_from_db()
    assert theirs.revoked_at is None
    assert "victors script" not in client.get(PAGE).text
    assert client.post("/account/api-tokens/999999/revoke/").status_code == 404


@pytest.mark.django_db
def test_only_signed_in_staff_reach_the_page(client, outsider, operator):
    assert client.get(PAGE).status_code == 302
    client.force_login(outsider)
    response = client.post(PAGE, {"name": "x", "scopes": ["read"]})
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
    assert not ApiToken.objects.exists()
    bearer(operator)
    assert client.post(revoke_url(ApiToken.objects.get())).status_code == 302
    assert ApiToken.objects.get().revoked_at is None
    # Revoking is a POST.
    client.force_login(operator)
    assert client.get(revoke_url(ApiToken.objects.get())).status_code == 405
