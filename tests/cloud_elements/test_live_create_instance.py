"""The client creates an instance from an authorization code, against the sandbox over real HTTP.

The created instance comes back whole, its secrets masked; a replayed code, or a configuration
sent back with its masked values, is refused as a bad request and creates nothing.
"""

from __future__ import annotations

import pytest

from instances.cloud_elements import client as cloud_elements
from instances.cloud_elements.client import (
    CloudElementsBadRequestError,
    Instance,
)
from instances.parameters import MASKED
from tests.cloud_elements.live_flow import (
    APP_SECRET,
    CALLBACK_URL,
    WEBHOOK_URL,
    authorized_code,
    payload,
)

pytestmark = pytest.mark.django_db(transaction=True)


def test_it_creates_an_instance_from_the_authorization_code(created):
    assert isinstance(created, Instance)
    assert created.id > 0
    assert len(created.token) >= 20
    assert created.name == "Marketing Dropbox"
    assert created.element_key == "dropbox"
    assert created.tags == ["marketing", "eu"]
    assert created.events_enabled is True
    assert created.valid is True
    assert created.disabled is False
    assert created.created_date


def test_it_returns_the_created_instance_with_its_secrets_masked(created):
    configuration = created.configuration
    assert configuration["oauth.api.key"] == MASKED
    assert configuration["oauth.api.secret"] == MASKED
    assert configuration["event.notification.signature.key"] == MASKED
    assert configuration["oauth.callback.url"] == CALLBACK_URL
    assert configuration["event.notification.callback.url"] == WEBHOOK_URL
    assert created.setting("oauth.api.secret") is None
    assert created.setting("oauth.callback.url") == CALLBACK_URL
    assert APP_SECRET not in repr(created)


def test_it_rejects_a_replayed_code(sandbox_site, settings):
    code = authorized_code(settings)
    cloud_elements.create_instance(payload(code))

    with pytest.raises(CloudElementsBadRequestError) as caught:
        cloud_elements.create_instance(payload(code, name="Second try"))

    assert caught.value.status == 400
    assert caught.value.request_id
    assert caught.value.provider_message == "invalid_grant"
    assert "invalid_grant" in caught.value.message
    assert [i.name for i in cloud_elements.list_instances()] == ["Marketing Dropbox"]


def test_it_rejects_a_configuration_sent_back_with_masked_values(created, settings):
    body = payload(authorized_code(settings))
    body["configuration"] = dict(created.configuration)

    with pytest.raises(CloudElementsBadRequestError) as caught:
        cloud_elements.create_instance(body)

    assert caught.value.status == 400
    assert "masked" in caught.value.remote_message
