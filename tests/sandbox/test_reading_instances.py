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


# --- Light objects (hydrate=false) ----------------------------------------------------------


def test_a_light_object_is_the_full_one_without_token_secrets_or_element_metadata(
    client, two_instances
):
    full = {item["id"]: item for item in get(client, "/instances").json()}

    response = get(client, "/instances?hydrate=false&tags[]=finance")

    assert response.status_code == 200 and response["Content-Type"] == "application/json"
    [light] = response.json()
    finance = full[two_instances[0]["id"]]
    assert light["id"] == finance["id"] and light["name"] == "Finance archive"
    assert light["tags"] == ["finance", "q3"] and light["createdDate"] == finance["createdDate"]
    assert (light["valid"], light["disabled"]) == (finance["valid"], finance["disabled"])
    assert light["eventsEnabled"] == finance["eventsEnabled"]
    assert light["element"] == {"id": 14, "key": "dropbox", "name": "Dropbox"}
    assert "token" not in light and "user" not in light
    plain = {k: v for k, v in finance["configuration"].items() if v != MASKED}
    assert light["configuration"] == plain
    for secret in (APP_KEY, APP_SECRET, SIGNING_KEY, MASKED, finance["token"]):
        assert secret not in response.content.decode()


def test_light_objects_page_like_full_ones(client, two_instances):
    first = get(client, "/instances?hydrate=false&pageSize=1")

    assert [item["name"] for item in first.json()] == ["Finance archive"]
    token = first["Elements-Next-Page-Token"]
    second = get(client, f"/instances?hydrate=false&pageSize=1&nextPage={token}")
    assert [item["name"] for item in second.json()] == ["Marketing share"]
    assert "Elements-Next-Page-Token" not in second
