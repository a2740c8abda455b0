"""The sandbox's element catalog: `GET /elements`, `GET /elements/{keyOrId}` and
`GET /elements/{keyOrId}/metadata`.

From the reference (fleet-anchors.md, "Element metadata"): an element carries `authentication.type`
and a `configuration` list whose entries have `key, name, description, defaultValue, type,
required, hideFromConsole, displayOrder, internal, active, resellerConfig, companyConfig,
groupControl`; Dropbox's types are `BOOLEAN` and `TEXTFIELD_1000`; `/metadata` answers
`events.supported` and `events.methods`, Dropbox's being webhook; the elements take a key or an
id (section 3). The sandbox's choices (marked so in their names): the platform headers are
required as for every platform call, the list leaves configurations out, the example elements
say `sandboxExample`.
"""

from __future__ import annotations

import pytest

from tests.sandbox.contract import API, assert_error, get

pytestmark = pytest.mark.django_db

DOCUMENTED_ENTRY_FIELDS = {
    "key",
    "name",
    "description",
    "defaultValue",
    "type",
    "required",
    "hideFromConsole",
    "displayOrder",
    "internal",
    "active",
    "resellerConfig",
    "companyConfig",
    "groupControl",
}


def test_an_element_has_its_authentication_and_documented_configuration_entries(client):
    response = get(client, "/elements/dropbox")

    assert response.status_code == 200
    element = response.json()
    assert element["key"] == "dropbox" and element["authentication"]["type"] == "oauth2"
    for entry in element["configuration"]:
        assert set(entry) >= DOCUMENTED_ENTRY_FIELDS, entry["key"]
        assert entry["type"] in {"BOOLEAN", "TEXTFIELD_1000"}
    shown = [e["key"] for e in element["configuration"] if not e["hideFromConsole"]]
    assert "event.notification.signature.key" in shown


def test_an_element_is_found_by_its_id_too(client):
    by_key = get(client, "/elements/dropbox").json()

    by_id = get(client, f"/elements/{by_key['id']}")

    assert by_id.status_code == 200 and by_id.json() == by_key
    assert get(client, f"/elements/{by_key['id']}/metadata").json()["key"] == "dropbox"


def test_the_metadata_says_whether_and_how_events_come(client):
    dropbox = get(client, "/elements/dropbox/metadata").json()

    assert dropbox["events"] == {"supported": True, "methods": ["webhook"]}


def test_an_unknown_element_is_404_in_the_documented_error_shape(client):
    for path in ("elements/nosuch", "elements/nosuch/metadata", "elements/999999"):
        assert_error(get(client, f"/{path}"), 404)


def test_sandbox_choice_the_list_leaves_configurations_out_and_marks_examples(client):
    listed = get(client, "/elements").json()

    assert isinstance(listed, list) and all("configuration" not in e for e in listed)
    flagged = {e["key"]: e.get("sandboxExample", False) for e in listed}
    assert flagged["dropbox"] is False
    assert flagged["box"] is flagged["googledrive"] is flagged["sandboxpay"] is True


def test_sandbox_choice_the_catalog_needs_the_platform_secrets(client):
    for path in ("elements", "elements/dropbox", "elements/dropbox/metadata"):
        assert client.get(f"{API}/{path}").status_code == 401
