"""Fixtures of the Cloud Elements client tests: the scripted fault server, and a connected instance.

`remote` (the scripted server, see fault_server.py) is defined next to the server so that tests
elsewhere can import it; `created` runs the whole OAuth flow against the live sandbox.
"""

from __future__ import annotations

import pytest

from instances.cloud_elements.client import Instance
from tests.cloud_elements.fault_server import remote  # noqa: F401 (fixture)
from tests.cloud_elements.live_flow import connect


@pytest.fixture
def created(sandbox_site, settings) -> Instance:
    return connect(settings)
