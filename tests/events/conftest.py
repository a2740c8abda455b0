"""Fixtures shared by the test files of tests/events.

`instance` is the receiver's (tests/events/test_receiver_*.py): an active instance whose
deliveries are signed with KEY. A test file that needs another instance (the event log's pages,
the receiver cache, ...) defines its own `instance`, which takes precedence in that file.
"""

from __future__ import annotations

import pytest

from instances.models import ElementInstance
from tests.events.receiver_helpers import ACTIVE, KEY, with_key


@pytest.fixture
def instance(make_instance) -> ElementInstance:
    """An active instance whose deliveries are signed with KEY."""
    return with_key(make_instance("Finance Dropbox", status=ACTIVE, remote_id=1011), KEY)


@pytest.fixture
def unsigned_instance(make_instance) -> ElementInstance:
    """An active instance with no signature key: Cloud Elements sends no signature header."""
    return make_instance("Unsigned Dropbox", status=ACTIVE, remote_id=2022)


@pytest.fixture
def page(client, operator):
    """The instance page's HTML, as the operator sees it (the event log and chart tests)."""
    client.force_login(operator)

    def get(instance: ElementInstance, **query) -> str:
        response = client.get(instance.get_absolute_url(), query)
        assert response.status_code == 200
        return response.content.decode()

    return get
