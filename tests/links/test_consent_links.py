"""Consent by link: tokens, the owner's pages, the state's binding, and the operator's side.

Cloud Elements is faked at the client's seam (as in test_oauth_callback.py); the browser tests in
tests/browser/test_consent_link.py run the same flows against the sandbox over real HTTP.
"""

from __future__ import annotations

import hashlib
import logging
import re
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from instances import oauth
from instances.cloud_elements import client as cloud_elements
from instances.lib.logging import RedactSecretsFilter
from instances.links import services as links
from instances.links.forms import ConsentLinkForm
from instances.links.models import ConsentLink
from instances.models import AuditEntry, ElementInstance, OAuthState
from tests.instances.test_oauth_callback import CONSENT, FakeCloudElements, form_data

pytestmark = pytest.mark.django_db
CALLBACK = "/instances/oauth/callback/"
Action = AuditEntry.Action
Status = ElementInstance.Status


@pytest.fixture(autouse=True)
def setup(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # A closed loopback port: a call that escaped the fakes fails at once, and nowhere else.
    settings.CLOUD_ELEMENTS_BASE_URL = "http://127.0.0.1:9/elements/api-v2"
    settings.CONSENT_ORGANIZATION_NAME = "Acme Finance"
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def remote(monkeypatch) -> FakeCloudElements:
    fake = FakeCloudElements()
    fake.updates = []

    def update_instance(instance_id: int, changes: dict) -> cloud_elements.Instance:
        fake.updates.append((instance_id, changes))
        return cloud_elements.Instance(id=instance_id, name="Renewed", element_key="dropbox")

    monkeypatch.setattr(cloud_elements, "get_oauth_url", fake.get_oauth_url)
    monkeypatch.setattr(cloud_elements, "create_instance", fake.create_instance)
    monkeypatch.setattr(cloud_elements, "update_instance", update_instance)
    return fake


@pytest.fixture
def draft(make_instance) -> ElementInstance:
    return make_instance("Customer Dropbox")


@pytest.fixture
def link(draft, operator) -> ConsentLink:
    return links.make_link(instance=draft, actor=operator, note="bob@customer.example")


def path(link: ConsentLink) -> str:
    return f"/connect/{link.token}/"


def continue_to_dropbox(client: Client, link: ConsentLink, remote) -> str:
    """Open the link and continue, as the owner; return the state sent to Cloud Elements."""
    assert client.get(path(link)).status_code == 200
    response = client.post(path(link))
    assert response.status_code == 302, response.content[:1000]
    state = remote.states[-1]
    assert response["Location"] == CONSENT + "?state=" + state
    return state


def reloaded(instance: ElementInstance) -> ElementInstance:
    return ElementInstance.objects.get(pk=instance.pk)


def actions(instance: ElementInstance) -> list[str]:
    return list(instance.audit_entries.order_by("id").values_list("action", flat=True))


# --- The token --------------------------------------------------------------------------------


def test_the_token_has_256_bits_and_only_its_hash_finds_the_link(link):
    token = link.token
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", token)  # 32 random bytes
    assert link.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert links.find_link(token).pk == link.pk
    with pytest.raises(links.LinkGone) as error:
        links.find_link(link.token_hash)
    assert error.value.status == 404


def test_no_column_holds_the_token_in_clear(link):
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM instances_consentlink WHERE id = %s", [link.pk])
        row = cursor.fetchone()
    assert all(link.token not in str(value) for value in row)
    # Encrypted (for "Copy link again"), not merely absent.
    assert ConsentLink.objects.get(pk=link.pk).token == link.token


def test_every_link_gets_a_new_token(draft, operator):
    tokens = {links.make_link(instance=draft, actor=operator).token for _ in range(3)}
    assert len(tokens) == 3


def test_a_new_link_revokes_the_old_one(draft, operator, link):
    newer = links.make_link(instance=draft, actor=operator)

    assert ConsentLink.objects.get(pk=link.pk).revoked_at is not None
    assert list(draft.consent_links.open()) == [newer]
    with pytest.raises(links.LinkGone) as error:
        links.find_link(link.token)
    assert (error.value.reason, error.value.status) == ("revoked", 410)


def test_the_link_expires_after_the_configured_days(settings, draft, operator):
    settings.CONSENT_LINK_DAYS = 3
    link = links.make_link(instance=draft, actor=operator)
    assert abs(link.expires_at - (timezone.now() + timedelta(days=3))) < timedelta(minutes=1)


def test_an_api_key_instance_or_an_unknown_one_gets_no_link(make_instance, operator):
    api_key = make_instance("Key", authentication_type="apiKey", api_key="k" * 20)
    unknown = make_instance("Unknown", status=Status.UNKNOWN)
    for instance in (api_key, unknown):
        with pytest.raises(links.ActionError):
            links.make_link(instance=instance, actor=operator)
    assert not ConsentLink.objects.exists()


# --- The state's binding ------------------------------------------------------------------------


def test_a_link_state_from_one_browser_cannot_complete_in_another(client, link, remote):
    state = continue_to_dropbox(client, link, remote)
    stored = OAuthState.objects.get(state_hash=OAuthState.digest(state))
    assert stored.consent_link_id == link.pk
    assert stored.session_hash == OAuthState.digest(client.session.session_key)

    other = Client()
    response = other.get(CALLBACK, {"state": state, "code": "code-1"})

    assert response.status_code == 403
    assert b"another browser" in response.content
    assert remote.payloads == []
    assert reloaded(link.instance).status == Status.AUTHORIZING


def test_a_link_state_is_not_accepted_by_the_operators_flow(link):
    state = oauth.issue_state(
        instance=link.instance, session_key="s1", purpose=link.purpose, consent_link=link
    )
    with pytest.raises(oauth.StateError) as error:
        oauth.consume_state(state=state, session_key="s1")
    assert error.value.reason == "wrong_flow"


def test_the_operators_state_is_not_accepted_by_the_link_flow(draft):
    state = oauth.issue_state(instance=draft, session_key="s1", purpose="create")
    with pytest.raises(oauth.StateError) as error:
        oauth.consume_state(state=state, session_key="s1", by_link=True)
    assert error.value.reason == "wrong_flow"
    with pytest.raises(oauth.StateError):
        links.complete(state=state, session_key="s1", params={"code": "c"})


def test_an_operator_state_still_needs_a_login_at_the_callback(client, draft):
    state = oauth.issue_state(instance=draft, session_key="s1", purpose="create")
    response = client.get(CALLBACK, {"state": state, "code": "code-1"})
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


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


# --- Logs -----------------------------------------------------------------------------------------


def test_the_token_never_reaches_a_log_line(link):
    record = logging.LogRecord(
        "django.server",
        logging.INFO,
        __file__,
        1,
        '"%s" 200 1234',
        (f"GET {path(link)} HTTP/1.1",),
        None,
    )
    RedactSecretsFilter().filter(record)
    assert link.token not in record.getMessage()
    assert "/connect/[redacted]/" in record.getMessage()


# --- The operator's side -------------------------------------------------------------------------


@pytest.fixture
def operator_client(client, operator) -> Client:
    client.force_login(operator)
    return client


def test_the_new_form_can_send_a_consent_link_instead(operator_client, remote):
    data = form_data(**{"send_link": "1", "link-note": "Bob at Customer"})
    response = operator_client.post("/instances/new/", data)

    assert response.status_code == 200
    instance = ElementInstance.objects.get(uuid=data["instance_uuid"])
    link = ConsentLink.objects.get(instance=instance)
    body = response.content.decode()
    assert f"http://127.0.0.1:8000/connect/{link.token}/" in body or link.token in body
    assert "Bob at Customer" in body and "data-copy-target" in body
    assert response["Cache-Control"] == "no-store"
    assert instance.status == Status.DRAFT
    assert remote.oauth_calls == []
    assert actions(instance) == [Action.DRAFTED, Action.LINK_MADE]


def test_no_consent_link_for_an_api_key_instance(operator_client, remote):
    data = form_data(authentication_type="apiKey", api_key="k" * 24, send_link="1")
    response = operator_client.post("/instances/new/", data)
    assert response.status_code == 400
    assert "A consent link is for oauth2" in response.content.decode()
    assert not ElementInstance.objects.exists()


@pytest.mark.parametrize(
    ("url", "valid"),
    [
        ("https://customer.example/done", True),
        ("http://127.0.0.1:9000/done", True),
        ("http://customer.example/done", False),
        ("javascript:alert(1)", False),
        ("/relative", False),
    ],
)
def test_success_and_error_urls_are_https_or_loopback(url, valid):
    form = ConsentLinkForm({"link-success_url": url, "link-error_url": url}, prefix="link")
    assert form.is_valid() is valid


def test_the_instance_page_offers_copy_revoke_and_a_new_link(operator_client, link):
    page = operator_client.get(link.instance.get_absolute_url()).content.decode()
    assert "Waiting for consent" in page
    assert "Copy link again" in page and "Revoke" in page and "Make a new one" in page
    assert link.token not in page  # shown only on request

    again = operator_client.post(f"/instances/{link.instance.uuid}/consent-link/copy/")
    assert link.token in again.content.decode()

    operator_client.post(f"/instances/{link.instance.uuid}/consent-link/revoke/")
    assert ConsentLink.objects.get(pk=link.pk).revoked_at is not None
    page = operator_client.get(link.instance.get_absolute_url()).content.decode()
    assert "Waiting for consent" not in page and "Send a consent link" in page


def test_an_active_instance_offers_a_reauthorization_link(operator_client, make_instance):
    active = make_instance("Live", status=Status.ACTIVE, remote_id=77)
    page = operator_client.get(active.get_absolute_url()).content.decode()
    assert "Send a re-authorization link" in page
    response = operator_client.post(f"/instances/{active.uuid}/consent-link/", {"link-note": ""})
    assert response.status_code == 200
    assert ConsentLink.objects.get(instance=active).purpose == "reauthorize"


def test_the_list_shows_waiting_for_consent_without_a_query_per_row(
    operator_client, make_instance, operator
):
    def list_queries() -> int:
        with CaptureQueriesContext(connection) as queries:
            response = operator_client.get("/instances/")
        assert response.status_code == 200
        return len(queries)

    links.make_link(instance=make_instance("One"), actor=operator)
    few = list_queries()
    for number in range(4):
        links.make_link(instance=make_instance(f"More {number}"), actor=operator)
    make_instance("No link")
    assert list_queries() == few
    page = operator_client.get("/instances/").content.decode()
    assert page.count("Waiting for consent") == 5


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
