"""What every request of the client carries: its documented endpoint, the secrets, the timeout.

Each public function is called once against the scripted server of fault_server.py, which
records what it received: each call goes to its documented method and path (with its query), with
the user and organization secrets from settings, and with the configured timeout.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from requests.adapters import HTTPAdapter

from instances.cloud_elements import client as cloud_elements
from tests.cloud_elements.fault_server import (
    API_PATH,
    ORG_SECRET,
    PUBLIC_CALLS,
    USER_SECRET,
    create,
    like_cloud_elements,
)


def call_every_public_function() -> None:
    cloud_elements.get_oauth_url(
        element_key="dropbox",
        api_key="app-key",
        api_secret="app-secret",
        callback_url="http://127.0.0.1:8000/instances/oauth/callback/",
        state="state",
    )
    create()
    cloud_elements.get_instance(58992)
    cloud_elements.list_instances(tags=["marketing"], search_text="API")
    cloud_elements.update_instance(58992, {"name": "Renamed"})
    cloud_elements.replace_instance(58992, {"name": "Replaced", "tags": []})
    cloud_elements.delete_instance(58992)
    cloud_elements.get_configuration(58992)


def test_every_request_carries_the_user_and_organization_secrets_from_settings(remote):
    remote.will(like_cloud_elements)

    call_every_public_function()

    assert len(remote.received) == len(PUBLIC_CALLS)
    assert {request.headers["Authorization"] for request in remote.received} == {
        f"User {USER_SECRET}, Organization {ORG_SECRET}"
    }


def test_it_sends_each_call_to_its_documented_endpoint(remote):
    remote.will(like_cloud_elements)

    call_every_public_function()

    sent = [(r.method, urlsplit(r.path).path.removeprefix(API_PATH)) for r in remote.received]
    assert sent == [
        ("GET", "/elements/dropbox/oauth/url"),
        ("POST", "/instances"),
        ("GET", "/instances/58992"),
        ("GET", "/instances"),
        ("PATCH", "/instances/58992"),
        ("PUT", "/instances/58992"),
        ("DELETE", "/instances/58992"),
        ("GET", "/instances/58992/configuration"),
    ]
    assert parse_qs(urlsplit(remote.received[3].path).query) == {
        "tags[]": ["marketing"],
        "searchText": ["API"],
    }


def test_every_call_passes_the_configured_timeout(remote, settings, monkeypatch):
    settings.CLOUD_ELEMENTS_TIMEOUT = 3.5
    remote.will(like_cloud_elements)
    timeouts: list[object] = []
    real_send = HTTPAdapter.send

    def spy(adapter, request, **kwargs):
        timeouts.append(kwargs.get("timeout"))
        return real_send(adapter, request, **kwargs)

    monkeypatch.setattr(HTTPAdapter, "send", spy)

    call_every_public_function()

    assert len(timeouts) == len(PUBLIC_CALLS)
    assert timeouts == [3.5] * len(PUBLIC_CALLS)
