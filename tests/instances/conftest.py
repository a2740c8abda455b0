"""Fixtures shared by several instance test files; their helpers live next to them.

The consent fakes (consent_helpers.py), an active instance and the recorded event switches
(lifecycle_helpers.py), the instance list's cast (list_helpers.py) and a receiving instance
(scale_helpers.py). The shared cast of users and `make_instance` are in tests/conftest.py.
"""

from __future__ import annotations

import pytest
from django.test import Client

from instances.cloud_elements import client as cloud_elements
from instances.cloud_elements.client import Instance
from instances.models import ElementInstance
from tests.instances.consent_helpers import FakeCloudElements
from tests.instances.lifecycle_helpers import OLD_KEY, RECEIVER_URL, reload
from tests.instances.list_helpers import events_on
from tests.instances.scale_helpers import ACTIVE, KEY

Status = ElementInstance.Status


@pytest.fixture
def fast_test_setup(settings):
    """Applied by `pytestmark = pytest.mark.usefixtures("fast_test_setup")` in the consent and
    form test files, to every test there, as an autouse fixture of theirs once was."""
    # The cast's passwords are hashed on every test; a fast hasher keeps the file quick.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # A closed loopback port: a call that escaped the fakes fails at once, and nowhere else.
    settings.CLOUD_ELEMENTS_BASE_URL = "http://127.0.0.1:9/elements/api-v2"


# --- The OAuth consent and the instance form, faked at the client's seam --------------------------


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


@pytest.fixture
def remote_calls(monkeypatch) -> list[tuple[str, dict]]:
    """Every call the dashboard makes to Cloud Elements, faked at the client's seam."""
    calls: list[tuple[str, dict]] = []

    def get_oauth_url(**arguments) -> cloud_elements.OAuthUrl:
        calls.append(("get_oauth_url", arguments))
        return cloud_elements.OAuthUrl(
            element="dropbox",
            oauth_url="https://consent.example/authorize?state=" + arguments["state"],
        )

    def create_instance(payload) -> cloud_elements.Instance:
        calls.append(("create_instance", payload))
        return cloud_elements.Instance(
            id=58992, name=payload["name"], element_key="dropbox", token="token-0123456789abc"
        )

    monkeypatch.setattr(cloud_elements, "get_oauth_url", get_oauth_url)
    monkeypatch.setattr(cloud_elements, "create_instance", create_instance)
    return calls


# --- An active instance, and the events switch recorded -------------------------------------------


@pytest.fixture
def active(make_instance) -> ElementInstance:
    """An active instance with events on, a receiver and a signature key."""
    instance = make_instance("Marketing Dropbox", tags=["marketing", "eu"], status=Status.ACTIVE)
    instance.remote_id = 7301
    instance.save()
    webhook = instance.webhook
    webhook.enabled = True
    webhook.callback_url = RECEIVER_URL
    webhook.signature_key = OLD_KEY
    webhook.save()
    return reload(instance)


@pytest.fixture
def sent(monkeypatch) -> list[tuple[int, dict]]:
    """Record every PATCH the dashboard would send, sending nothing."""
    calls: list[tuple[int, dict]] = []

    def update_instance(instance_id: int, changes: dict) -> Instance:
        calls.append((instance_id, changes))
        enabled = changes.get("configuration", {}).get("event.notification.enabled", False)
        return Instance(id=instance_id, name="x", element_key="dropbox", events_enabled=enabled)

    monkeypatch.setattr(cloud_elements, "update_instance", update_instance)
    return calls


# --- The instance list's cast ---------------------------------------------------------------------


@pytest.fixture
def cast(make_instance, operator) -> dict[str, ElementInstance]:
    """Five instances, one of each kind the list must tell apart."""
    return {
        "finance": events_on(
            make_instance(
                "Finance Dropbox",
                tags=["payroll", "eu"],
                status=Status.ACTIVE,
                remote_id=58992,
                created_by=operator,
            )
        ),
        "legal": make_instance(
            "Legal Dropbox", tags=["legal"], status=Status.ACTIVE, remote_id=61001
        ),
        "sales": make_instance(
            "Sales Business", tags=["eu"], status=Status.FAILED, element_key="dropboxbusiness"
        ),
        "old": make_instance(
            "Old Payroll Dropbox", tags=["payroll"], status=Status.DELETED, remote_id=40000
        ),
        "draft": make_instance("Draft Dropbox"),
    }


@pytest.fixture
def as_operator(client, operator):
    client.force_login(operator)
    return client


# --- A receiving instance (event counts and delivery cost) ----------------------------------------


@pytest.fixture
def receiver_instance(make_instance):
    instance = make_instance("Receiver", status=ACTIVE, remote_id=4242)
    instance.webhook.signature_key = KEY
    instance.webhook.save()
    return instance
