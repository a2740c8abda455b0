"""The client reads instances and their configuration back, against the sandbox over real HTTP.

`get_instance` answers the instance with its token; `list_instances` filters by tags and search
text; `get_configuration` answers the entries with secrets masked and documented defaults
included, and a missing instance is reported as not found.
"""

from __future__ import annotations

import pytest

from instances.cloud_elements import client as cloud_elements
from instances.cloud_elements.client import (
    CloudElementsNotFoundError,
    ConfigurationEntry,
)
from instances.parameters import MASKED
from tests.cloud_elements.live_flow import (
    CALLBACK_URL,
    connect,
    payload,
)

pytestmark = pytest.mark.django_db(transaction=True)


def test_it_reads_an_instance_back_with_its_token(created):
    found = cloud_elements.get_instance(created.id)

    assert found.id == created.id
    assert found.token == created.token
    assert found.name == created.name
    assert found.tags == created.tags
    assert found.events_enabled is True


def test_it_lists_instances_filtered_by_tags_and_search_text(sandbox_site, settings):
    marketing = connect(settings, name="Marketing Dropbox", tags=["marketing", "eu"])
    finance = connect(settings, name="Finance Dropbox", tags=["finance", "eu"])

    def ids(**filters) -> list[int]:
        return [instance.id for instance in cloud_elements.list_instances(**filters)]

    assert ids() == [marketing.id, finance.id]
    assert ids(tags=["eu"]) == [marketing.id, finance.id]
    assert ids(tags=["finance"]) == [finance.id]
    assert ids(tags=["marketing", "eu"]) == [marketing.id]
    assert ids(tags=["marketing", "finance"]) == []
    assert ids(search_text="finance") == [finance.id]
    assert ids(search_text="nothing like it") == []
    assert all(i.token for i in cloud_elements.list_instances())


# --- GET /instances/{id}/configuration --------------------------------------------------------


def test_it_reads_the_configuration_with_secrets_masked(created):
    entries = cloud_elements.get_configuration(created.id)

    assert all(isinstance(entry, ConfigurationEntry) for entry in entries)
    by_key = {entry.key: entry for entry in entries}
    # Cloud Elements also reports documented defaults that were not sent (section 4).
    assert set(by_key) == {*payload("unused")["configuration"], "filter.response.nulls"}
    assert {k for k, e in by_key.items() if e.is_masked} == {
        "oauth.api.key",
        "oauth.api.secret",
        "event.notification.signature.key",
    }
    assert by_key["oauth.api.secret"].property_value == MASKED
    assert by_key["oauth.callback.url"].property_value == CALLBACK_URL
    assert by_key["oauth.callback.url"].is_masked is False
    # propertyValue is always a string, booleans included.
    assert by_key["event.notification.enabled"].property_value == "true"
    assert len({entry.id for entry in entries}) == len(entries)
    assert all(entry.id > 0 for entry in entries)


def test_it_reports_the_configuration_of_a_missing_instance_as_not_found(sandbox_site):
    with pytest.raises(CloudElementsNotFoundError):
        cloud_elements.get_configuration(987654)
