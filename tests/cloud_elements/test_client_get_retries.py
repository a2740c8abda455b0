"""The client retries a GET that Cloud Elements answered 503, and never retries a POST.

A read is safe to repeat, so a 503 to a GET is retried until it succeeds; a POST could create a
second instance, so its 503 is raised at once after a single request. The answers come from the
scripted server of fault_server.py.
"""

from __future__ import annotations

import pytest

from instances.cloud_elements import client as cloud_elements
from instances.cloud_elements.client import (
    CloudElementsServerError,
)
from tests.cloud_elements.fault_server import (
    INSTANCE,
    create,
    reply,
)


def test_it_retries_a_get_answered_503_until_it_succeeds(remote):
    remote.will(reply(503, b""), reply(503, b""), reply(200, INSTANCE))

    instance = cloud_elements.get_instance(58992)

    assert instance.id == 58992
    assert remote.methods() == ["GET", "GET", "GET"]


def test_it_never_retries_a_post_answered_503(remote):
    remote.will(reply(503, b""), reply(200, INSTANCE))

    with pytest.raises(CloudElementsServerError) as caught:
        create()

    assert caught.value.status == 503
    assert remote.methods() == ["POST"]
