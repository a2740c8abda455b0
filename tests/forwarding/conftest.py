"""Fixtures of the forwarding tests: the app's HTTP listener, an instance whose deliveries the
receiver verifies, and destinations. The listener and the storing helpers are in helpers.py."""

from __future__ import annotations

import pytest

from instances.forwarding.models import Destination
from instances.models import ElementInstance
from tests.events.receiver_helpers import KEY, with_key
from tests.forwarding.helpers import Listener


@pytest.fixture
def listener():
    found = Listener()
    yield found
    found.close()


@pytest.fixture
def instance(make_instance) -> ElementInstance:
    """An active Dropbox instance tagged Finance and EU, its deliveries signed with KEY."""
    made = make_instance(
        "Finance Dropbox",
        status=ElementInstance.Status.ACTIVE,
        remote_id=1011,
        tags=["Finance", "EU"],
    )
    return with_key(made, KEY)


@pytest.fixture
def make_destination(db):
    def make(url: str, name: str = "Our app", *, instances=(), **fields) -> Destination:
        destination = Destination.objects.create(name=name, url=url, **fields)
        destination.instances.set(instances)
        return destination

    return make
