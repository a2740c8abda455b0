"""Whatever the endpoint, the sandbox answers JSON, and its errors take the documented shape.

Every error body is `{requestId, message}` with a fresh request id; a wrong method is a 405 with
an `Allow` header (the sandbox's choice, HTTP's rule), an unknown API path a 404, and every
successful body is JSON with a JSON content type.
"""

from __future__ import annotations

import json

import pytest

from tests.conftest import AUTH_HEADER
from tests.sandbox.contract import (
    API,
    assert_error,
    create_instance,
    get,
    get_oauth_url,
)

pytestmark = pytest.mark.django_db


def test_every_error_carries_a_fresh_request_id(client):
    first = assert_error(get_oauth_url(client, apiKey=None), 400)
    second = assert_error(get_oauth_url(client, apiKey=None), 400)

    assert first["requestId"] != second["requestId"]


def test_json_bodies_are_json(client):
    created = create_instance(client)

    for response in (
        get(client, "/instances"),
        get(client, f"/instances/{created['id']}"),
        get(client, f"/instances/{created['id']}/configuration"),
    ):
        assert response["Content-Type"].startswith("application/json")
        json.loads(response.content)


def test_a_wrong_method_is_a_405_in_the_documented_error_shape(client):
    # 405 is documented; the `Allow` header is the sandbox's choice (HTTP's rule).
    response = client.delete(f"{API}/instances", HTTP_AUTHORIZATION=AUTH_HEADER)
    assert_error(response, 405)
    assert "GET" in response["Allow"]


def test_an_unknown_api_path_is_a_404_in_the_documented_error_shape(client):
    response = client.get(f"{API}/no/such/thing", HTTP_AUTHORIZATION=AUTH_HEADER)
    assert_error(response, 404)
