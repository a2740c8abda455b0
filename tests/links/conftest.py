"""Fixtures shared by the consent link tests of tests/links.

Cloud Elements is faked at the client's seam (tests/instances/consent_helpers.py). The autouse
`setup` applies to every test file here that does not define its own `setup`
(test_consent_link_race.py does).
"""

from __future__ import annotations

import pytest
from django.core.cache import cache

from instances.cloud_elements import client as cloud_elements
from instances.links import services as links
from instances.links.models import ConsentLink
from instances.models import ElementInstance
from tests.instances.consent_helpers import FakeCloudElements


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
