"""Creating an instance through the OAuth consent screen: the state machine and its callback.

Cloud Elements is faked at the client's seam (`instances.cloud_elements`), one function at a
time, so that `except CloudElementsError` in the product still sees the real error classes. The
last test runs the same flow against the sandbox over real HTTP on 127.0.0.1, to read the logs.
"""

from __future__ import annotations

import copy
import html
import logging
import re
import secrets
import uuid
from datetime import timedelta
from urllib.parse import parse_qs, parse_qsl, urljoin, urlsplit

import pytest
import requests
from django.db import connection
from django.test import Client
from django.utils import timezone

from instances import forms, parameters
from instances.cloud_elements import client as cloud_elements
from instances.models import AuditEntry, ElementInstance, OAuthState

NEW = "/instances/new/"
CALLBACK = "/instances/oauth/callback/"
CONSENT = "https://consent.example/authorize"
CLIENT_SECRET = "app-secret-very-long-4567-never-logged"
SIGNATURE_KEY = "signature-key-9876543210-never-logged"
Status = ElementInstance.Status

RFC_6749_ERRORS = [
    "access_denied",
    "invalid_request",
    "unauthorized_client",
    "unsupported_response_type",
    "invalid_scope",
    "server_error",
    "temporarily_unavailable",
]


class FakeCloudElements:
    """Records what the dashboard asks of Cloud Elements and answers as it documents."""

    def __init__(self) -> None:
        self.oauth_calls: list[dict] = []
        self.payloads: list[dict] = []
        self.tokens: list[str] = []

    @property
    def states(self) -> list[str]:
        return [call["state"] for call in self.oauth_calls]

    def get_oauth_url(self, **arguments) -> cloud_elements.OAuthUrl:
        self.oauth_calls.append(arguments)
        return cloud_elements.OAuthUrl(
            element="dropbox", oauth_url=CONSENT + "?state=" + arguments["state"]
        )

    def create_instance(self, payload: dict) -> cloud_elements.Instance:
        self.payloads.append(copy.deepcopy(payload))
        token = "element-token-" + secrets.token_hex(16)
        self.tokens.append(token)
        return cloud_elements.Instance(
            id=58990 + len(self.payloads),
            name=payload["name"],
            element_key=payload["element"]["key"],
            token=token,
        )

    def fail_create(self, monkeypatch, error: cloud_elements.CloudElementsError) -> None:
        """Make POST /instances fail with `error`, still recording what was sent."""

        def create_instance(payload: dict) -> cloud_elements.Instance:
            self.payloads.append(copy.deepcopy(payload))
            raise error

        monkeypatch.setattr(cloud_elements, "create_instance", create_instance)


# --- Fixtures and helpers -----------------------------------------------------------------------


@pytest.fixture(autouse=True)
def fast_test_setup(settings):
    # The cast's passwords are hashed on every test; a fast hasher keeps the file quick.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # A closed loopback port: a call that escaped the fakes fails at once, and nowhere else.
    settings.CLOUD_ELEMENTS_BASE_URL = "http://127.0.0.1:9/elements/api-v2"


@pytest.fixture
def remote(monkeypatch) -> FakeCloudElements:
    fake = FakeCloudElements()
    monkeypatch.setattr(cloud_elements, "get_oauth_url", fake.get_oauth_url)
    monkeypatch.setattr(cloud_elements, "create_instance", fake.create_instance)
    return fake


@pytest.fixture
def operator_client(client, operator) -> Client:
    client.force_login(operator)
    return client


def form_data(**overrides) -> dict:
    instance_uuid = str(uuid.uuid4())
    data = {
        "instance_uuid": instance_uuid,
        "name": "Finance Dropbox",
        "element_key": "dropbox",
        "authentication_type": "oauth2",
        "oauth_callback_url": forms.oauth_callback_url(),
        "oauth_api_key": "app-key-123",
        "oauth_api_secret": CLIENT_SECRET,
        "api_key": "",
        "events_enabled": "on",
        "event_callback_url": forms.webhook_url(instance_uuid),
        "signature_key": SIGNATURE_KEY,
        "tags": "finance, eu",
    }
    data.update(overrides)
    return data


def start(client: Client, remote: FakeCloudElements, **overrides) -> tuple[ElementInstance, str]:
    """Submit the form and follow it to the consent screen; return the draft and its state."""
    data = form_data(**overrides)
    response = client.post(NEW, data)
    assert response.status_code == 302, response.content[:2000]
    state = remote.states[-1]
    assert response["Location"] == CONSENT + "?state=" + state
    return ElementInstance.objects.get(uuid=data["instance_uuid"]), state


def callback(client: Client, **params):
    return client.get(CALLBACK, params)


def raw_column(model, column: str, pk: int) -> str:
    """A column as stored in the database, without the model field's decryption."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {column} FROM {model._meta.db_table} WHERE id = %s",
            [pk],
        )
        return cursor.fetchone()[0]


def reloaded(instance: ElementInstance) -> ElementInstance:
    return ElementInstance.objects.select_related("webhook").get(pk=instance.pk)


# --- Starting the consent -----------------------------------------------------------------------


def test_a_valid_form_saves_a_draft_and_redirects_to_the_consent_screen(operator_client, remote):
    data = form_data()
    response = operator_client.post(NEW, data)

    assert response.status_code == 302
    (call,) = remote.oauth_calls
    assert response["Location"] == CONSENT + "?state=" + call["state"]
    assert call["element_key"] == "dropbox"
    assert call["api_key"] == "app-key-123"
    assert call["api_secret"] == CLIENT_SECRET
    assert call["callback_url"] == forms.oauth_callback_url()
    instance = ElementInstance.objects.select_related("webhook").get(uuid=data["instance_uuid"])
    assert instance.status == Status.AUTHORIZING
    assert instance.remote_id is None
    assert instance.oauth_api_secret == CLIENT_SECRET
    assert instance.webhook.signature_key == SIGNATURE_KEY
    assert remote.payloads == []


def test_the_draft_keeps_its_secrets_encrypted(operator_client, remote):
    instance, _ = start(operator_client, remote)

    stored_secret = raw_column(ElementInstance, "oauth_api_secret", instance.pk)
    stored_key = raw_column(type(instance.webhook), "signature_key", instance.webhook.pk)
    assert CLIENT_SECRET not in stored_secret
    assert SIGNATURE_KEY not in stored_key
    assert reloaded(instance).oauth_api_secret == CLIENT_SECRET


def test_the_state_has_at_least_256_bits_and_is_new_every_time(operator_client, remote):
    for _ in range(3):
        start(operator_client, remote)

    for state in remote.states:
        assert re.fullmatch(r"[A-Za-z0-9_-]{43,}", state), state
        assert state != "dropbox"
    assert len(set(remote.states)) == 3


def test_only_a_hash_of_the_state_is_stored(operator_client, remote):
    instance, state = start(operator_client, remote)

    pending = OAuthState.objects.get(instance=instance)
    assert pending.state_hash == OAuthState.digest(state)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {OAuthState._meta.db_table}")
        stored = " ".join(str(value) for row in cursor.fetchall() for value in row)
    assert state not in stored
    assert operator_client.session.session_key not in stored


def test_the_same_callback_url_is_used_in_the_consent_and_the_payload(operator_client, remote):
    instance, state = start(operator_client, remote)
    callback(operator_client, state=state, code="code-1")

    (payload,) = remote.payloads
    assert payload["configuration"]["oauth.callback.url"] == remote.oauth_calls[0]["callback_url"]


# --- The callback -------------------------------------------------------------------------------


def test_the_callback_creates_the_instance_with_the_code(operator_client, remote):
    instance, state = start(operator_client, remote)

    response = callback(operator_client, state=state, code="auth-code-0001")

    (payload,) = remote.payloads
    assert payload["providerData"] == {"code": "auth-code-0001"}
    assert payload["name"] == "Finance Dropbox"
    assert payload["configuration"]["oauth.api.secret"] == CLIENT_SECRET
    instance = reloaded(instance)
    assert instance.status == Status.ACTIVE
    assert instance.remote_id == 58991
    assert instance.remote_token == remote.tokens[0]
    assert remote.tokens[0] not in raw_column(ElementInstance, "remote_token", instance.pk)
    assert instance.audit_entries.filter(
        action=AuditEntry.Action.CREATED, outcome=AuditEntry.Outcome.SUCCESS
    ).exists()
    assert response.status_code == 302
    assert response["Location"] == instance.get_absolute_url()
    assert "code=" not in response["Location"]
    assert "state=" not in response["Location"]


def test_the_instance_page_announces_the_new_instance(operator_client, remote):
    _, state = start(operator_client, remote)
    response = operator_client.get(CALLBACK, {"state": state, "code": "c-1"}, follow=True)
    assert response.status_code == 200
    assert "is connected (Cloud Elements id 58991)" in html.unescape(response.text)


def test_it_rejects_a_replayed_state(operator_client, remote):
    _, state = start(operator_client, remote)
    assert callback(operator_client, state=state, code="code-1").status_code == 302

    response = callback(operator_client, state=state, code="code-1")

    assert response.status_code == 400
    assert "already used" in response.text
    assert len(remote.payloads) == 1


def test_a_replay_after_success_says_already_connected_not_retry(operator_client, remote):
    _, state = start(operator_client, remote)
    callback(operator_client, state=state, code="code-1")

    response = callback(operator_client, state=state, code="code-1")

    page = html.unescape(response.text)
    assert "“Finance Dropbox” is already connected (Cloud Elements id 58991)" in page
    assert "Retry" not in page
    assert len(remote.payloads) == 1


def test_it_rejects_a_callback_without_a_state(operator_client, remote):
    instance, _ = start(operator_client, remote)

    response = callback(operator_client, code="code-1")

    assert response.status_code == 400
    assert "without a state" in response.text
    assert remote.payloads == []
    assert reloaded(instance).status == Status.AUTHORIZING


def test_it_rejects_an_unknown_state(operator_client, remote):
    instance, _ = start(operator_client, remote)

    response = callback(operator_client, state=secrets.token_urlsafe(32), code="code-1")

    assert response.status_code == 400
    assert "unknown state" in response.text
    assert remote.payloads == []
    assert reloaded(instance).status == Status.AUTHORIZING


@pytest.mark.parametrize("who", ["same user", "another user"])
def test_it_rejects_a_state_from_another_session(operator_client, remote, django_user_model, who):
    instance, state = start(operator_client, remote)
    other = Client()
    if who == "same user":
        other.force_login(django_user_model.objects.get(username="alice"))
    else:
        other.force_login(django_user_model.objects.create_superuser("bob", "b@example.com", "x"))

    response = callback(other, state=state, code="code-from-elsewhere")

    assert response.status_code == 403
    assert "another browser session" in response.text
    assert remote.payloads == []
    assert reloaded(instance).status == Status.AUTHORIZING


def test_a_forged_callback_does_not_use_up_the_real_consent(operator_client, operator, remote):
    instance, state = start(operator_client, remote)
    intruder = Client()
    intruder.force_login(operator)
    assert callback(intruder, state=state, code="attacker-code").status_code == 403

    assert callback(operator_client, state=state, code="real-code").status_code == 302

    assert [p["providerData"]["code"] for p in remote.payloads] == ["real-code"]
    assert reloaded(instance).status == Status.ACTIVE


def test_it_rejects_an_expired_state(operator_client, remote):
    instance, state = start(operator_client, remote)
    OAuthState.objects.filter(instance=instance).update(
        created_at=timezone.now() - timedelta(minutes=11)
    )

    response = callback(operator_client, state=state, code="code-1")

    assert response.status_code == 400
    assert "expired" in response.text
    assert remote.payloads == []
    assert reloaded(instance).remote_id is None


def test_a_state_nine_minutes_old_is_still_accepted(operator_client, remote):
    instance, state = start(operator_client, remote)
    OAuthState.objects.filter(instance=instance).update(
        created_at=timezone.now() - timedelta(minutes=9)
    )

    assert callback(operator_client, state=state, code="code-1").status_code == 302
    assert reloaded(instance).status == Status.ACTIVE


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        *[({"error": code}, code) for code in RFC_6749_ERRORS],
        ({"error": "mystery_error"}, "mystery_error"),
        ({}, "neither a code nor an error"),
        ({"error": "access_denied", "code": "code-despite-error"}, "access_denied"),
    ],
    ids=[*RFC_6749_ERRORS, "unknown-code", "neither-code-nor-error", "code-and-error"],
)
def test_a_provider_error_keeps_the_draft_and_says_why(operator_client, remote, params, expected):
    instance, state = start(operator_client, remote)

    response = callback(operator_client, state=state, **params)

    assert response.status_code == 302
    assert response["Location"] == instance.get_absolute_url()
    instance = reloaded(instance)
    assert instance.status == Status.DRAFT
    assert instance.remote_id is None
    assert expected in instance.last_error
    assert instance.oauth_api_secret == CLIENT_SECRET  # nothing typed is lost
    assert instance.audit_entries.filter(action=AuditEntry.Action.AUTHORIZATION_DENIED).exists()
    assert remote.payloads == []
    # Error answers carry the state too, and it is used up all the same.
    assert callback(operator_client, state=state, code="late-code").status_code == 400
    assert remote.payloads == []


def test_access_denied_is_explained_in_words(operator_client, remote):
    instance, state = start(operator_client, remote)
    callback(operator_client, state=state, error="access_denied")
    assert "Access was denied" in reloaded(instance).last_error


def test_an_error_description_is_shown_escaped(operator_client, remote):
    _, state = start(operator_client, remote)

    response = operator_client.get(
        CALLBACK,
        {
            "state": state,
            "error": "access_denied",
            "error_description": "<script>alert(1)</script>",
        },
        follow=True,
    )

    assert response.status_code == 200
    assert "<script>alert(1)</script>" not in response.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in response.text
    assert re.search(
        r'class="module aligned last-error"[^>]*>.*?&lt;script&gt;', response.text, re.S
    )


def test_two_consents_in_one_session_both_complete(operator_client, remote):
    first, first_state = start(operator_client, remote, name="First Dropbox")
    second, second_state = start(operator_client, remote, name="Second Dropbox")

    assert callback(operator_client, state=second_state, code="code-second").status_code == 302
    assert callback(operator_client, state=first_state, code="code-first").status_code == 302

    sent = {p["name"]: p["providerData"]["code"] for p in remote.payloads}
    assert sent == {"First Dropbox": "code-first", "Second Dropbox": "code-second"}
    assert reloaded(first).status == Status.ACTIVE
    assert reloaded(second).status == Status.ACTIVE
    assert reloaded(first).remote_id != reloaded(second).remote_id


def test_a_session_keeps_at_most_ten_pending_consents(operator_client, remote):
    states = [start(operator_client, remote, name=f"Dropbox {n}")[1] for n in range(11)]

    assert callback(operator_client, state=states[0], code="code-0").status_code == 400
    assert callback(operator_client, state=states[1], code="code-1").status_code == 302
    assert callback(operator_client, state=states[10], code="code-10").status_code == 302
    assert [p["providerData"]["code"] for p in remote.payloads] == ["code-1", "code-10"]


def test_a_second_consent_for_an_active_instance_never_creates_it_twice(operator_client, remote):
    instance, first_state = start(operator_client, remote)
    assert operator_client.post(f"/instances/{instance.uuid}/retry/").status_code == 302
    second_state = remote.states[-1]
    assert callback(operator_client, state=first_state, code="code-1").status_code == 302

    response = callback(operator_client, state=second_state, code="code-2")

    assert response.status_code == 400
    assert "already being created" in response.text
    assert [p["providerData"]["code"] for p in remote.payloads] == ["code-1"]
    assert reloaded(instance).status == Status.ACTIVE


def test_a_late_denial_leaves_an_active_instance_active(operator_client, remote):
    instance, first_state = start(operator_client, remote)
    assert operator_client.post(f"/instances/{instance.uuid}/retry/").status_code == 302
    second_state = remote.states[-1]
    assert callback(operator_client, state=first_state, code="code-1").status_code == 302

    callback(operator_client, state=second_state, error="access_denied")

    instance = reloaded(instance)
    assert instance.status == Status.ACTIVE
    assert instance.remote_id == 58991
    assert len(remote.payloads) == 1


# --- Remote failures ----------------------------------------------------------------------------


def test_a_rejected_create_fails_with_the_reason_and_request_id(
    operator_client, remote, monkeypatch
):
    message = "Cloud Elements rejected the request. Cloud Elements says: Invalid code."
    remote.fail_create(
        monkeypatch,
        cloud_elements.CloudElementsBadRequestError(message, status=400, request_id="req-123"),
    )
    instance, state = start(operator_client, remote)

    response = operator_client.get(CALLBACK, {"state": state, "code": "code-1"}, follow=True)

    instance = reloaded(instance)
    assert instance.status == Status.FAILED
    assert instance.remote_id is None
    assert instance.last_error == message
    assert instance.last_error_request_id == "req-123"
    page = html.unescape(response.text)
    assert response.redirect_chain[-1][0] == instance.get_absolute_url()
    assert message in page
    assert "req-123" in page
    assert len(remote.payloads) == 1


def test_a_timed_out_create_is_adopted_when_cloud_elements_has_it(
    operator_client, remote, monkeypatch
):
    remote.fail_create(monkeypatch, cloud_elements.CloudElementsTimeoutError())
    instance, state = start(operator_client, remote)
    searches: list[tuple[str, str]] = []

    def list_instances(*, tags=None, search_text=""):
        searches.append((search_text, reloaded(instance).status))
        return [cloud_elements.Instance(id=77001, name="Finance Dropbox", element_key="dropbox")]

    def get_instance(instance_id):
        assert instance_id == 77001
        return cloud_elements.Instance(
            id=77001, name="Finance Dropbox", element_key="dropbox", token="recovered-token-42"
        )

    monkeypatch.setattr(cloud_elements, "list_instances", list_instances)
    monkeypatch.setattr(cloud_elements, "get_instance", get_instance)

    callback(operator_client, state=state, code="code-1")

    instance = reloaded(instance)
    # Looked up while the instance was unknown, never by sending the code again.
    assert searches == [("Finance Dropbox", Status.UNKNOWN)]
    assert instance.status == Status.ACTIVE
    assert instance.remote_id == 77001
    assert instance.remote_token == "recovered-token-42"
    assert instance.audit_entries.filter(action=AuditEntry.Action.RECONCILED).exists()
    assert len(remote.payloads) == 1


@pytest.mark.parametrize(
    "error",
    [
        cloud_elements.CloudElementsTimeoutError(),
        cloud_elements.CloudElementsConnectionDroppedError(),
        cloud_elements.CloudElementsServerError(status=502, request_id="req-502"),
    ],
    ids=["timeout", "dropped", "server-error"],
)
def test_an_ambiguous_create_that_did_not_happen_fails_without_resending_the_code(
    operator_client, remote, monkeypatch, error
):
    remote.fail_create(monkeypatch, error)
    monkeypatch.setattr(cloud_elements, "list_instances", lambda **kwargs: [])
    instance, state = start(operator_client, remote)

    callback(operator_client, state=state, code="code-1")

    # Finding nothing at once proves nothing: Cloud Elements may still be creating it.
    instance = reloaded(instance)
    assert instance.status == Status.UNKNOWN
    assert "Check the status again" in instance.last_error
    assert operator_client.post(f"/instances/{instance.uuid}/retry/").status_code == 302
    assert reloaded(instance).status == Status.UNKNOWN

    # Once the grace period is over, still nothing there means it was not created.
    ElementInstance.objects.filter(pk=instance.pk).update(
        updated_at=timezone.now() - timedelta(minutes=5)
    )
    operator_client.post(f"/instances/{instance.uuid}/reconcile/")
    instance = reloaded(instance)
    assert instance.status == Status.FAILED
    assert "was not created" in instance.last_error
    assert instance.remote_id is None
    assert callback(operator_client, state=state, code="code-1").status_code == 400
    assert len(remote.payloads) == 1


def test_a_timed_out_create_stays_unknown_until_it_can_be_checked(
    operator_client, remote, monkeypatch
):
    remote.fail_create(monkeypatch, cloud_elements.CloudElementsTimeoutError())

    def unreachable(**kwargs):
        raise cloud_elements.CloudElementsConnectionError()

    monkeypatch.setattr(cloud_elements, "list_instances", unreachable)
    instance, state = start(operator_client, remote)

    page = operator_client.get(CALLBACK, {"state": state, "code": "code-1"}, follow=True).text

    assert reloaded(instance).status == Status.UNKNOWN
    assert "Unknown (reconciling)" in page
    assert "Check status at Cloud Elements" in page

    found = cloud_elements.Instance(id=77002, name="Finance Dropbox", element_key="dropbox")
    monkeypatch.setattr(cloud_elements, "list_instances", lambda **kwargs: [found])
    monkeypatch.setattr(cloud_elements, "get_instance", lambda instance_id: found)
    response = operator_client.post(f"/instances/{instance.uuid}/reconcile/")

    assert response.status_code == 302
    instance = reloaded(instance)
    assert instance.status == Status.ACTIVE
    assert instance.remote_id == 77002
    assert len(remote.payloads) == 1


def test_an_unreachable_cloud_elements_keeps_the_draft_before_the_consent(
    operator_client, remote, monkeypatch
):
    def unreachable(**arguments):
        raise cloud_elements.CloudElementsConnectionError()

    monkeypatch.setattr(cloud_elements, "get_oauth_url", unreachable)
    data = form_data()

    response = operator_client.post(NEW, data, follow=True)

    instance = ElementInstance.objects.get(uuid=data["instance_uuid"])
    assert response.redirect_chain == [(instance.get_absolute_url(), 302)]
    assert "Your draft is saved" in response.text
    assert instance.status == Status.FAILED
    assert instance.oauth_api_secret == CLIENT_SECRET
    assert remote.payloads == []


# --- Retry ----------------------------------------------------------------------------------------


def test_retry_from_failed_starts_a_fresh_consent(operator_client, remote, monkeypatch):
    remote.fail_create(
        monkeypatch, cloud_elements.CloudElementsBadRequestError("Invalid code.", status=400)
    )
    instance, first_state = start(operator_client, remote)
    callback(operator_client, state=first_state, code="code-1")
    assert reloaded(instance).status == Status.FAILED

    response = operator_client.post(f"/instances/{instance.uuid}/retry/")

    assert response.status_code == 302
    second_state = remote.states[-1]
    assert second_state != first_state
    assert response["Location"] == CONSENT + "?state=" + second_state
    assert reloaded(instance).status == Status.AUTHORIZING

    monkeypatch.setattr(cloud_elements, "create_instance", remote.create_instance)
    assert callback(operator_client, state=second_state, code="code-2").status_code == 302
    assert reloaded(instance).status == Status.ACTIVE
    assert [p["providerData"]["code"] for p in remote.payloads] == ["code-1", "code-2"]


def test_a_view_only_user_cannot_retry(client, viewer, remote, make_instance):
    instance = make_instance(status=Status.FAILED, last_error="Invalid code.")
    client.force_login(viewer)

    response = client.post(f"/instances/{instance.uuid}/retry/")

    assert response.status_code == 403
    assert remote.oauth_calls == []
    assert remote.payloads == []
    assert reloaded(instance).status == Status.FAILED
    assert not OAuthState.objects.exists()


def test_an_active_instance_cannot_be_retried(operator_client, remote, make_instance):
    instance = make_instance(status=Status.ACTIVE, remote_id=58992)

    response = operator_client.post(f"/instances/{instance.uuid}/retry/")

    assert response.status_code == 302
    assert response["Location"] == instance.get_absolute_url()
    assert remote.oauth_calls == []
    assert reloaded(instance).status == Status.ACTIVE


# --- apiKey authentication ------------------------------------------------------------------------


def test_api_key_authentication_creates_the_instance_without_a_consent(operator_client, remote):
    data = form_data(
        authentication_type="apiKey",
        api_key="the-api-key-0123456789",
        oauth_callback_url="",
        oauth_api_key="",
        oauth_api_secret="",
    )

    response = operator_client.post(NEW, data)

    instance = ElementInstance.objects.get(uuid=data["instance_uuid"])
    assert response.status_code == 302
    assert response["Location"] == instance.get_absolute_url()
    assert remote.oauth_calls == []
    assert not OAuthState.objects.exists()
    (payload,) = remote.payloads
    assert "providerData" not in payload
    assert payload["configuration"]["authentication.type"] == "apiKey"
    assert payload["configuration"][parameters.API_KEY_PARAMETER] == "the-api-key-0123456789"
    assert instance.status == Status.ACTIVE
    assert instance.remote_id == 58991
    assert "the-api-key" not in raw_column(ElementInstance, "api_key", instance.pk)


def api_key_form() -> dict:
    return form_data(
        authentication_type="apiKey",
        api_key="the-api-key-0123456789",
        oauth_callback_url="",
        oauth_api_key="",
        oauth_api_secret="",
    )


def test_an_api_key_instance_is_announced_with_its_id(operator_client, remote):
    response = operator_client.post(NEW, api_key_form(), follow=True)

    shown = [(m.level_tag, m.message) for m in response.context["messages"]]
    assert shown == [
        ("success", "“Finance Dropbox” was created at Cloud Elements (Cloud Elements id 58991).")
    ]


def test_an_api_key_instance_cloud_elements_refused_says_why(operator_client, remote, monkeypatch):
    refusal = cloud_elements.CloudElementsBadRequestError(
        "Cloud Elements rejected the request. Provider says: invalid api key"
    )
    remote.fail_create(monkeypatch, refusal)

    response = operator_client.post(NEW, api_key_form(), follow=True)

    shown = [(m.level_tag, m.message) for m in response.context["messages"]]
    assert shown == [("error", refusal.message)]
    assert ElementInstance.objects.get().status == Status.FAILED


# --- Logs -----------------------------------------------------------------------------------------


def allow_consent(consent_url: str, settings) -> dict[str, str]:
    """Press Allow on the sandbox consent screen as a browser would; return the callback query."""
    browser = requests.Session()
    page = browser.get(consent_url, timeout=10)
    assert page.status_code == 200
    form = {
        name: html.unescape(value)
        for name, value in re.findall(
            r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page.text
        )
    }
    form["decision"] = "allow"
    action = re.search(r'<form method="post" action="([^"]+)"', page.text).group(1)
    answer = browser.post(
        urljoin(consent_url, html.unescape(action)),
        data=form,
        headers={"Referer": consent_url},
        allow_redirects=False,
        timeout=10,
    )
    assert answer.status_code == 302
    location = answer.headers["Location"]
    assert location.startswith(settings.SITE_URL + CALLBACK)
    return dict(parse_qsl(urlsplit(location).query))


@pytest.mark.django_db(transaction=True)
def test_the_whole_flow_logs_no_secret(sandbox_site, settings, operator, caplog):
    # The real client and the sandbox, over HTTP on 127.0.0.1: what the product logs for real.
    settings.CLOUD_ELEMENTS_BASE_URL = ""
    caplog.set_level(logging.DEBUG)
    client = Client()
    client.force_login(operator)
    data = form_data()

    response = client.post(NEW, data)
    assert response.status_code == 302
    state = parse_qs(urlsplit(response["Location"]).query)["state"][0]
    query = allow_consent(response["Location"], settings)
    assert query["state"] == state
    assert client.get(CALLBACK, query).status_code == 302
    instance = reloaded(ElementInstance.objects.get(uuid=data["instance_uuid"]))
    assert instance.status == Status.ACTIVE
    assert client.get(instance.get_absolute_url()).status_code == 200
    assert client.get(CALLBACK, query).status_code == 400
    stranger = Client()
    stranger.force_login(operator)
    assert stranger.get(CALLBACK, query).status_code == 403

    assert "cloud_elements GET /elements/dropbox/oauth/url -> 200" in caplog.text
    assert "cloud_elements POST /instances -> 200" in caplog.text
    for secret in (
        CLIENT_SECRET,
        SIGNATURE_KEY,
        query["code"],
        state,
        instance.remote_token,
        settings.CLOUD_ELEMENTS_USER_SECRET,
        settings.CLOUD_ELEMENTS_ORGANIZATION_SECRET,
    ):
        assert secret
        assert secret not in caplog.text
