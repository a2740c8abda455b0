"""Re-authorizing an active instance: a new consent, then `PATCH /instances/{id}` with the code.

The instance keeps its Cloud Elements id and stays active throughout; a refused code or a denied
consent keeps it active, records why and is never reported as connected. Only an active instance
can be re-authorized, and not by a view-only user. Cloud Elements is faked one client function
at a time, at the seam.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from django.urls import reverse

from instances.cloud_elements import client as cloud_elements
from instances.cloud_elements.client import CloudElementsBadRequestError, Instance, OAuthUrl
from instances.models import ElementInstance, OAuthState
from tests.instances.lifecycle_helpers import (
    Action,
    Status,
    audit_actions,
    reload,
    shown_messages,
    url,
)


def test_reauthorizing_goes_through_consent_and_keeps_the_cloud_elements_id(
    client, operator, active, monkeypatch
):
    asked: list[dict] = []

    def get_oauth_url(**arguments) -> OAuthUrl:
        asked.append(arguments)
        consent = f"https://www.dropbox.com/oauth2/authorize?state={arguments['state']}"
        return OAuthUrl(element="dropbox", oauth_url=consent)

    monkeypatch.setattr(cloud_elements, "get_oauth_url", get_oauth_url)
    client.force_login(operator)

    response = client.post(url("reauthorize", active))

    assert response.status_code == 302
    assert response["Location"].startswith("https://www.dropbox.com/oauth2/authorize?")
    state = parse_qs(urlsplit(response["Location"]).query)["state"][0]
    assert asked[0]["element_key"] == "dropbox"
    assert asked[0]["callback_url"] == active.oauth_callback_url
    assert OAuthState.objects.get().purpose == OAuthState.Purpose.REAUTHORIZE
    assert reload(active).status == Status.ACTIVE  # unlike a create, not "authorizing"

    patches: list[tuple[int, dict]] = []

    def update_instance(instance_id: int, changes: dict) -> Instance:
        patches.append((instance_id, changes))
        return Instance(
            id=instance_id, name="Marketing Dropbox", element_key="dropbox", token="new-token-42"
        )

    monkeypatch.setattr(cloud_elements, "update_instance", update_instance)

    back = client.get(
        reverse("instances:oauth_callback"), {"state": state, "code": "fresh-code-1"}, follow=True
    )

    assert patches == [(7301, {"providerData": {"code": "fresh-code-1"}})]
    instance = reload(active)
    assert instance.remote_id == 7301
    assert instance.status == Status.ACTIVE
    assert instance.remote_token == "new-token-42"
    assert ElementInstance.objects.count() == 1
    assert audit_actions(instance)[0] == Action.REAUTHORIZED
    assert back.redirect_chain[-1][0] == instance.get_absolute_url()
    assert shown_messages(back)[0][0] == "success"


def start_reauthorization(client, instance: ElementInstance, monkeypatch) -> str:
    """Press Re-authorize with the consent URL faked; return the state it carries."""
    monkeypatch.setattr(
        cloud_elements,
        "get_oauth_url",
        lambda **arguments: OAuthUrl(
            "dropbox", f"https://consent.test/?state={arguments['state']}"
        ),
    )
    response = client.post(url("reauthorize", instance))
    return parse_qs(urlsplit(response["Location"]).query)["state"][0]


def refuse_the_code(monkeypatch) -> None:
    def update_instance(instance_id: int, changes: dict) -> Instance:
        raise CloudElementsBadRequestError(
            "Cloud Elements rejected the request. Provider says: invalid_grant",
            request_id="req-reauth-1",
        )

    monkeypatch.setattr(cloud_elements, "update_instance", update_instance)


def test_a_failed_reauthorization_keeps_the_instance_active_and_records_why(
    client, operator, active, monkeypatch
):
    client.force_login(operator)
    state = start_reauthorization(client, active, monkeypatch)
    refuse_the_code(monkeypatch)

    client.get(reverse("instances:oauth_callback"), {"state": state, "code": "stale"})

    instance = reload(active)
    assert (instance.status, instance.remote_id) == (Status.ACTIVE, 7301)
    assert "invalid_grant" in instance.last_error
    assert instance.last_error_request_id == "req-reauth-1"
    assert Action.REMOTE_ERROR in audit_actions(instance)
    assert Action.REAUTHORIZED not in audit_actions(instance)


def test_a_failed_reauthorization_is_not_reported_as_connected(
    client, operator, active, monkeypatch
):
    client.force_login(operator)
    state = start_reauthorization(client, active, monkeypatch)
    refuse_the_code(monkeypatch)

    back = client.get(
        reverse("instances:oauth_callback"), {"state": state, "code": "stale"}, follow=True
    )

    assert shown_messages(back) == [("error", reload(active).last_error)]


def test_a_denied_reauthorization_is_not_reported_as_connected(
    client, operator, active, monkeypatch
):
    client.force_login(operator)
    state = start_reauthorization(client, active, monkeypatch)

    back = client.get(
        reverse("instances:oauth_callback"),
        {"state": state, "error": "access_denied"},
        follow=True,
    )

    assert Action.AUTHORIZATION_DENIED in audit_actions(active)
    assert [level for level, _ in shown_messages(back)] == ["error"]


def test_only_an_active_instance_can_be_reauthorized(client, operator, make_instance, monkeypatch):
    asked: list[dict] = []
    monkeypatch.setattr(cloud_elements, "get_oauth_url", lambda **a: asked.append(a))
    draft = make_instance("Draft Dropbox")
    client.force_login(operator)

    assert client.post(url("reauthorize", draft)).status_code == 404
    assert asked == []


def test_a_view_only_user_cannot_reauthorize(client, viewer, active, monkeypatch):
    asked: list[dict] = []
    monkeypatch.setattr(cloud_elements, "get_oauth_url", lambda **a: asked.append(a))
    client.force_login(viewer)

    assert client.post(url("reauthorize", active)).status_code == 403
    assert asked == []
    assert not OAuthState.objects.exists()
