"""While `POST /instances` is in flight the instance reads as unknown, to everyone (issue 10,
point 14): a crash or a second request mid-call must find "unknown" (to be reconciled), never
"active" (nothing to retry) nor "authorizing" / "failed" (which invite a second create).

Cloud Elements is faked at the client seam by a create_instance that, during the call, reads the
row the way others would: in another query, from another database connection, and the
instance page another operator would open.
"""

from __future__ import annotations

import threading

import pytest
from django.db import connection
from django.test import Client

from instances.cloud_elements import client as ce
from instances.models import ElementInstance
from tests.instances.consent_helpers import CALLBACK, NEW, FakeCloudElements, form_data

Status = ElementInstance.Status
FIELDS = ("status", "remote_id", "last_error")


class Observer:
    """A create_instance that records what the instance reads as during the call."""

    def __init__(self, operator) -> None:
        self.operator = operator
        self.same_connection: dict | None = None
        self.other_connection: dict | None = None
        self.page = ""
        self.fake = FakeCloudElements()

    def create_instance(self, payload: dict) -> ce.Instance:
        row = ElementInstance.objects.get(name=payload["name"])
        self.same_connection = dict(ElementInstance.objects.values(*FIELDS).get(pk=row.pk))

        def read_elsewhere() -> None:
            try:
                found = ElementInstance.objects.values(*FIELDS).get(pk=row.pk)
                self.other_connection = dict(found)
            finally:
                connection.close()

        reader = threading.Thread(target=read_elsewhere)
        reader.start()
        reader.join(30)
        browser = Client()
        browser.force_login(self.operator)
        self.page = browser.get(row.get_absolute_url()).text
        return self.fake.create_instance(payload)


IN_FLIGHT = {
    "status": Status.UNKNOWN,
    "remote_id": None,
    "last_error": "Sent to Cloud Elements; no answer yet.",
}


@pytest.fixture
def observer(operator, monkeypatch, settings) -> Observer:
    settings.CLOUD_ELEMENTS_BASE_URL = "http://127.0.0.1:9/elements/api-v2"
    watcher = Observer(operator)
    monkeypatch.setattr(ce, "create_instance", watcher.create_instance)
    monkeypatch.setattr(ce, "get_oauth_url", watcher.fake.get_oauth_url)
    return watcher


@pytest.mark.django_db(transaction=True)
def test_an_api_key_create_reads_as_unknown_while_in_flight(observer, operator):
    client = Client()
    client.force_login(operator)
    data = form_data(
        authentication_type="apiKey",
        api_key="the-api-key-0123456789",
        oauth_callback_url="",
        oauth_api_key="",
        oauth_api_secret="",
    )

    assert client.post(NEW, data).status_code == 302

    assert observer.same_connection == IN_FLIGHT
    assert observer.other_connection == IN_FLIGHT
    assert "Unknown (reconciling)" in observer.page
    assert ElementInstance.objects.get(uuid=data["instance_uuid"]).status == Status.ACTIVE


@pytest.mark.django_db(transaction=True)
def test_an_oauth_create_reads_as_unknown_while_in_flight(observer, operator):
    client = Client()
    client.force_login(operator)
    data = form_data()
    assert client.post(NEW, data).status_code == 302
    state = observer.fake.states[-1]
    assert ElementInstance.objects.get(uuid=data["instance_uuid"]).status == Status.AUTHORIZING

    assert client.get(CALLBACK, {"state": state, "code": "code-1"}).status_code == 302

    assert observer.same_connection == IN_FLIGHT
    assert observer.other_connection == IN_FLIGHT
    assert "Unknown (reconciling)" in observer.page
    assert ElementInstance.objects.get(uuid=data["instance_uuid"]).status == Status.ACTIVE
