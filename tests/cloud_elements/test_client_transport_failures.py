"""How the client reports transport failures: timeouts, refused connections, unknown hosts, drops.

A request Cloud Elements never answers raises an ambiguous timeout in time; a refused connection
or an unresolvable host is an unambiguous connection error that says what happened (never "timed
out"); a connection dropped after a POST is ambiguous, since the change may have happened. The
faults come from the scripted server of fault_server.py, or from a port nothing listens on.
"""

from __future__ import annotations

import json
import socket
import time

import pytest

from instances.cloud_elements import client as cloud_elements
from instances.cloud_elements.client import (
    CloudElementsConnectionDroppedError,
    CloudElementsConnectionError,
    CloudElementsTimeoutError,
)
from tests.cloud_elements.fault_server import (
    API_PATH,
    create,
    drop,
    hang,
)


@pytest.fixture
def nothing_listening(settings) -> str:
    """A loopback port that was free a moment ago: connecting to it is refused."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings.CLOUD_ELEMENTS_BASE_URL = f"http://127.0.0.1:{port}{API_PATH}"
    return settings.CLOUD_ELEMENTS_BASE_URL


def test_it_raises_an_ambiguous_timeout_when_cloud_elements_does_not_answer(remote, settings):
    settings.CLOUD_ELEMENTS_TIMEOUT = 0.5
    remote.will(hang)
    started = time.monotonic()

    with pytest.raises(CloudElementsTimeoutError) as caught:
        create()

    assert time.monotonic() - started < 4
    assert caught.value.ambiguous is True
    assert caught.value.message == CloudElementsTimeoutError.default_message
    assert remote.methods() == ["POST"]


def test_it_raises_an_unambiguous_connection_error_when_the_connection_is_refused(
    nothing_listening,
):
    with pytest.raises(CloudElementsConnectionError) as caught:
        create()

    assert type(caught.value) is CloudElementsConnectionError
    assert caught.value.ambiguous is False
    assert caught.value.message == "Cloud Elements could not be reached (connection refused)."


def test_a_refused_get_says_refused_after_its_retries_not_timed_out(nothing_listening):
    # urllib3 2.x: NewConnectionError subclasses ConnectTimeoutError.
    with pytest.raises(CloudElementsConnectionError) as caught:
        cloud_elements.get_instance(58992)

    assert caught.value.message == "Cloud Elements could not be reached (connection refused)."
    assert "timed out" not in caught.value.message


def test_an_unresolvable_host_says_so(settings):
    settings.CLOUD_ELEMENTS_BASE_URL = "http://no-such-host.invalid" + API_PATH
    settings.CLOUD_ELEMENTS_TIMEOUT = 2

    with pytest.raises(CloudElementsConnectionError) as caught:
        create()

    assert caught.value.ambiguous is False
    assert "host name could not be resolved" in caught.value.message
    assert "timed out" not in caught.value.message


def test_it_raises_an_ambiguous_error_when_the_connection_drops_after_a_post(remote):
    remote.will(drop)

    with pytest.raises(CloudElementsConnectionDroppedError) as caught:
        create()

    assert caught.value.ambiguous is True
    assert remote.methods() == ["POST"]
    assert json.loads(remote.received[0].body)["providerData"] == {"code": "single-use-code"}
