"""The sandbox's `DELETE /instances/{id}`: the instance is gone afterwards, everywhere.

Deleting answers 200, and the instance, its configuration and its place in the list then answer
404 or are absent; deleting an unknown id is a 404 in the documented error shape.
"""

from __future__ import annotations

import pytest

from tests.conftest import AUTH_HEADER
from tests.sandbox.contract import (
    API,
    assert_error,
    create_instance,
    get,
    listed_ids,
)

pytestmark = pytest.mark.django_db


def test_delete_answers_200_and_the_instance_is_then_not_found(client):
    created = create_instance(client)
    path = f"/instances/{created['id']}"

    response = client.delete(f"{API}{path}", HTTP_AUTHORIZATION=AUTH_HEADER)

    assert response.status_code == 200
    assert_error(get(client, path), 404)
    assert_error(get(client, f"{path}/configuration"), 404)
    assert listed_ids(client) == []


def test_delete_answers_404_for_an_unknown_instance(client):
    assert_error(client.delete(f"{API}/instances/987654", HTTP_AUTHORIZATION=AUTH_HEADER), 404)
