"""How the client reads Cloud Elements' successful answers, and refuses the ones it cannot read.

Malformed JSON, an instance without an id, or a list that is not a list raises a bad-response
error; tags given as strings or as `{id, name}` objects are read alike, and `eventsEnabled` falls
back to the configuration when the flag is absent. The answers come from the scripted server of
fault_server.py.
"""

from __future__ import annotations

import pytest

from instances.cloud_elements import client as cloud_elements
from instances.cloud_elements.client import (
    CloudElementsBadResponseError,
)
from tests.cloud_elements.fault_server import (
    INSTANCE,
    reply,
)


def test_it_raises_a_bad_response_error_for_malformed_json(remote):
    remote.will(reply(200, b'{"id": 58992, "name": '))

    with pytest.raises(CloudElementsBadResponseError) as caught:
        cloud_elements.get_instance(58992)

    assert caught.value.status == 200


def test_it_raises_a_bad_response_error_for_an_instance_without_id(remote):
    remote.will(reply(200, {"name": "No id"}))

    with pytest.raises(CloudElementsBadResponseError):
        cloud_elements.get_instance(58992)


def test_it_raises_a_bad_response_error_when_the_list_is_not_a_list(remote):
    remote.will(reply(200, {"instances": []}))

    with pytest.raises(CloudElementsBadResponseError):
        cloud_elements.list_instances()


def test_it_parses_tags_given_as_strings_or_as_id_name_objects(remote):
    remote.will(reply(200, {**INSTANCE, "tags": ["marketing", {"id": 12, "name": "my_first_tag"}]}))

    assert cloud_elements.get_instance(58992).tags == ["marketing", "my_first_tag"]


def test_it_reads_events_enabled_from_the_configuration_when_the_flag_is_absent(remote):
    body = {key: value for key, value in INSTANCE.items() if key != "eventsEnabled"}
    remote.will(reply(200, body))

    assert cloud_elements.get_instance(58992).events_enabled is True
