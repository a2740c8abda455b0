"""The sandbox's `GET /instances` and `GET /instances/{id}`: listing, filtering and reading back.

The list holds every instance as a documented instance object with secrets masked, filtered by
tag and searched by name or element key, case-insensitively; reading one instance answers its
token, and an unknown id is a 404.
"""

from __future__ import annotations

import pytest

from tests.sandbox.contract import (
    APP_KEY,
    APP_SECRET,
    MASKED,
    SIGNING_KEY,
    assert_error,
    create_instance,
    get,
    listed_ids,
)

pytestmark = pytest.mark.django_db


# --- GET /instances -------------------------------------------------------------------------


@pytest.fixture
def two_instances(client) -> tuple[dict, dict]:
    finance = create_instance(client, name="Finance archive", tags=["finance", "q3"])
    marketing = create_instance(client, name="Marketing share", tags=["marketing"])
    return finance, marketing


def test_listing_returns_every_instance_as_an_instance_object(client, two_instances):
    response = get(client, "/instances")

    assert response.status_code == 200
    listed = response.json()
    assert sorted(item["id"] for item in listed) == sorted(i["id"] for i in two_instances)
    for item in listed:
        assert item["element"]["key"] == "dropbox"
        assert item["configuration"]["oauth.api.secret"] == MASKED
    for secret in (APP_KEY, APP_SECRET, SIGNING_KEY):
        assert secret not in response.content.decode()


def test_listing_filters_by_tag(client, two_instances):
    finance, marketing = two_instances

    assert listed_ids(client, {"tags[]": "finance"}) == [finance["id"]]
    assert listed_ids(client, {"tags[]": "marketing"}) == [marketing["id"]]
    assert listed_ids(client, {"tags[]": "nobody"}) == []


def test_listing_searches_names_case_insensitively(client, two_instances):
    finance, marketing = two_instances

    assert listed_ids(client, {"searchText": "MARKETING"}) == [marketing["id"]]
    assert listed_ids(client, {"searchText": "archive"}) == [finance["id"]]
    assert listed_ids(client, {"searchText": "nothing-like-this"}) == []


def test_listing_search_also_matches_the_element_key(client, two_instances):
    assert sorted(listed_ids(client, {"searchText": "dropbox"})) == sorted(
        i["id"] for i in two_instances
    )


# --- GET /instances/{id} --------------------------------------------------------------------


def test_reading_an_instance_returns_its_token(client):
    created = create_instance(client)

    response = get(client, f"/instances/{created['id']}")

    assert response.status_code == 200
    body = response.json()
    assert body["id"] == created["id"]
    assert body["token"] == created["token"]
    assert body["configuration"]["event.notification.signature.key"] == MASKED
    assert SIGNING_KEY not in response.content.decode()


def test_reading_an_unknown_instance_answers_404(client):
    assert_error(get(client, "/instances/987654"), 404)
