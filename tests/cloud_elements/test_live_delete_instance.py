"""The client deletes an instance, against the sandbox over real HTTP.

A deleted instance is then not found, by id or in the list; deleting a missing instance is
reported as not found.
"""

from __future__ import annotations

import pytest

from instances.cloud_elements import client as cloud_elements
from instances.cloud_elements.client import (
    CloudElementsNotFoundError,
)

pytestmark = pytest.mark.django_db(transaction=True)


def test_it_deletes_an_instance(created):
    assert cloud_elements.delete_instance(created.id) is None

    with pytest.raises(CloudElementsNotFoundError) as caught:
        cloud_elements.get_instance(created.id)

    assert caught.value.status == 404
    assert caught.value.request_id
    assert cloud_elements.list_instances() == []


def test_it_reports_deleting_a_missing_instance_as_not_found(sandbox_site):
    with pytest.raises(CloudElementsNotFoundError) as caught:
        cloud_elements.delete_instance(987654)

    assert caught.value.status == 404
