"""The owner's side of a consent link: one page, consent without a login, then the done page.

The owner page shows only what the owner needs (no operator data or navigation, no referrer, no
framing, no caching) and its Continue needs the CSRF token even from a no-referrer page. Consent
completes without a login and spends the link; a refusal keeps it usable; the owner is sent to
the operator's success or error URL when set. A re-authorization link keeps the Cloud Elements
id, and an owner whose state is gone still gets an owner's page.
"""

from __future__ import annotations

import re

import pytest
from django.test import Client

from instances.links import services as links
from instances.links.models import ConsentLink
from instances.models import OAuthState
from tests.links.link_helpers import (
    CALLBACK,
    Action,
    Status,
    actions,
    continue_to_dropbox,
    path,
    reloaded,
)

pytestmark = pytest.mark.django_db


# --- The owner's pages --------------------------------------------------------------------------


def test_the_owner_page_shows_only_what_the_owner_needs(client, link):
    response = client.get(path(link))

    assert response.status_code == 200
    body = response.content.decode()
    assert "Acme Finance" in body
    assert "Customer Dropbox" in body
    assert "Dropbox" in body and "Continue to Dropbox" in body
    assert 'method="post"' in body and "csrfmiddlewaretoken" in body
    # No operator navigation, no operator data.
    assert not re.search(r'(href|action)="/(instances|admin|account)/', body)
    for forbidden in ("bob@customer.example", "app-secret", "app-key"):
        assert forbidden not in body
    assert response["Referrer-Policy"] == "no-referrer"
    assert response["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in response["Content-Security-Policy"]
    assert "no-store" in response["Cache-Control"]
    assert ConsentLink.objects.get(pk=link.pk).opened_at is not None
    client.get(path(link))
    assert actions(link.instance).count(Action.LINK_OPENED) == 1


def test_consent_completes_without_a_login_and_spends_the_link(client, link, remote):
    state = continue_to_dropbox(client, link, remote)
    response = client.get(CALLBACK, {"state": state, "code": "code-1"})

    assert response.status_code == 302
    assert response["Location"] == "/connect/done/"
    assert response["Referrer-Policy"] == "no-referrer"
    done = client.get("/connect/done/")
    assert "Connected — you can close this page" in done.content.decode()
    assert "/instances/" not in done.content.decode()
    instance = reloaded(link.instance)
    assert instance.status == Status.ACTIVE and instance.remote_id == 58991
    assert len(remote.payloads) == 1
    assert ConsentLink.objects.get(pk=link.pk).used_at is not None
    assert actions(instance) == [
        Action.LINK_MADE,
        Action.LINK_OPENED,
        Action.AUTHORIZING,
        Action.CONSENT_GIVEN,
        Action.CREATED,
        Action.LINK_COMPLETED,
    ]
    again = client.get(path(link))
    assert again.status_code == 410
    assert remote.oauth_calls[1:] == []


def test_a_refusal_keeps_the_link_usable_until_it_expires(client, link, remote):
    state = continue_to_dropbox(client, link, remote)
    response = client.get(CALLBACK, {"state": state, "error": "access_denied"})

    assert response["Location"] == "/connect/done/"
    body = client.get("/connect/done/").content.decode()
    assert "Not connected" in body
    assert path(link) in body  # Start again
    assert remote.payloads == []
    assert Action.CONSENT_REFUSED in actions(link.instance)
    assert reloaded(link.instance).status == Status.DRAFT
    # Changing their mind: the same link still works.
    state = continue_to_dropbox(client, link, remote)
    client.get(CALLBACK, {"state": state, "code": "code-2"})
    assert reloaded(link.instance).status == Status.ACTIVE


def test_the_owner_is_sent_to_the_operators_success_or_error_url(client, draft, operator, remote):
    link = links.make_link(
        instance=draft,
        actor=operator,
        success_url="https://customer.example/thanks",
        error_url="https://customer.example/sorry",
    )
    state = continue_to_dropbox(client, link, remote)
    assert client.get(CALLBACK, {"state": state, "error": "access_denied"})["Location"] == (
        "https://customer.example/sorry"
    )
    state = continue_to_dropbox(client, link, remote)
    assert client.get(CALLBACK, {"state": state, "code": "c"})["Location"] == (
        "https://customer.example/thanks"
    )


def test_a_reauthorization_link_keeps_the_cloud_elements_id(client, make_instance, remote):
    active = make_instance("Live", status=Status.ACTIVE, remote_id=4242, remote_valid=False)
    link = links.make_link(instance=active, actor=None)
    assert link.purpose == "reauthorize"
    state = continue_to_dropbox(client, link, remote)
    client.get(CALLBACK, {"state": state, "code": "code-9"})

    instance = reloaded(active)
    assert instance.remote_id == 4242 and instance.status == Status.ACTIVE
    assert remote.updates == [(4242, {"providerData": {"code": "code-9"}})]
    assert remote.payloads == []
    assert Action.REAUTHORIZED in actions(instance)
    assert Action.LINK_COMPLETED in actions(instance)


def test_continue_needs_the_csrf_token_even_with_the_null_origin_of_a_no_referrer_page(
    link, remote
):
    owner = Client(enforce_csrf_checks=True)
    page = owner.get(path(link)).content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)

    assert owner.post(path(link), HTTP_ORIGIN="null").status_code == 403
    assert owner.post(path(link), {"csrfmiddlewaretoken": "x" * 64}).status_code == 403
    assert remote.oauth_calls == []
    response = owner.post(path(link), {"csrfmiddlewaretoken": token}, HTTP_ORIGIN="null")
    assert response.status_code == 302
    assert len(remote.oauth_calls) == 1


def test_an_owner_whose_state_is_gone_still_gets_an_owner_page(client, link, remote):
    state = continue_to_dropbox(client, link, remote)
    OAuthState.objects.all().delete()  # e.g. purged after an hour

    response = client.get(CALLBACK, {"state": state, "code": "code-1"})

    assert response.status_code == 400
    assert "/admin/login/" not in response.get("Location", "")
    assert "not started from this dashboard" in response.content.decode()
    assert "Open the link you were sent again" in response.content.decode()
    assert remote.payloads == []
