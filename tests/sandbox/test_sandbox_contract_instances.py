"""The sandbox beyond the core: {keyOrId}, sanitising, configuration entries, disable/enable, hubs.

Written from cloud-elements-api.md sections 2-5 (quoted in the docstrings), not from the
sandbox's code. Where the reference is silent the test says so and names the sandbox's choice.
"""

from __future__ import annotations

import pytest

from instances.sandbox.models import SandboxInstance
from tests.conftest import AUTH_HEADER, USER_SECRET
from tests.sandbox.contract import (
    API,
    APP_SECRET,
    MASKED,
    SIGNING_KEY,
    assert_error,
    create_instance,
    get,
    get_oauth_url,
    instance_body,
    new_code,
    patch_json,
    post_json,
)

pytestmark = pytest.mark.django_db

# The element id Cloud Elements' Dropbox example answers (section 4, "Success response").
DROPBOX_ID = 14


def element_id(client) -> int:
    created = create_instance(client)
    return created["element"]["id"]


def with_token(token: str, *, organization: bool = True) -> str:
    base = AUTH_HEADER if organization else f"User {USER_SECRET}"
    return f"{base}, Element {token}"


def call(client, method: str, path: str, header: str, body=None):
    kwargs = {"HTTP_AUTHORIZATION": header}
    if body is not None:
        kwargs["content_type"] = "application/json"
        return getattr(client, method)(f"{API}{path}", body, **kwargs)
    return getattr(client, method)(f"{API}{path}", **kwargs)


# --- 1. {keyOrId} means key or id -----------------------------------------------------------


def test_oauth_url_accepts_the_element_id_for_key_or_id(client):
    """Section 3: `GET /elements/{keyOrId}/oauth/url`; the Dropbox element's id is 14 in the
    documented instance example (section 4)."""
    response = get_oauth_url(client, element=str(DROPBOX_ID))

    assert response.status_code == 200, response.content
    assert response.json()["element"] == "dropbox"


def test_instances_can_be_created_listed_and_read_by_element_id(client):
    """Section 4: `POST /elements/{keyOrId}/instances`; churros tests "CRUD by ID" on
    `elements/{id}/instances`."""
    body = instance_body(new_code(client))
    del body["element"]  # Open Connectors: leave the element key out of the body

    created = post_json(client, f"/elements/{DROPBOX_ID}/instances", body)

    assert created.status_code == 200, created.content
    instance_id = created.json()["id"]
    assert created.json()["element"]["key"] == "dropbox"
    listed = get(client, f"/elements/{DROPBOX_ID}/instances")
    assert listed.status_code == 200
    assert [row["id"] for row in listed.json()] == [instance_id]
    assert get(client, "/elements/dropbox/instances").json()[0]["id"] == instance_id
    one = get(client, f"/elements/{DROPBOX_ID}/instances/{instance_id}")
    assert one.status_code == 200 and one.json()["id"] == instance_id


def test_the_instance_routes_under_an_element_update_and_delete_by_key_and_by_id(client):
    """churros "CRUD by key" and "CRUD by ID": the instance routes under the element."""
    created = create_instance(client)
    path = f"/elements/dropbox/instances/{created['id']}"

    renamed = patch_json(client, path, {"name": "Renamed by key"})
    assert renamed.status_code == 200 and renamed.json()["name"] == "Renamed by key"
    deleted = client.delete(
        f"{API}/elements/{DROPBOX_ID}/instances/{created['id']}", HTTP_AUTHORIZATION=AUTH_HEADER
    )
    assert deleted.status_code == 200
    assert_error(get(client, f"/instances/{created['id']}"), 404)


def test_an_instance_is_not_found_under_another_element(client):
    """The sandbox's choice (the reference is silent): another element's route answers 404."""
    created = create_instance(client)

    assert_error(get(client, f"/elements/dropboxbusiness/instances/{created['id']}"), 404)


def test_an_unknown_element_id_answers_404(client):
    assert_error(get_oauth_url(client, element="999999"), 404)
    assert_error(get(client, "/elements/999999/instances"), 404)


# --- 3. Names and tags are sanitised --------------------------------------------------------


def test_markup_is_removed_from_name_and_tags_on_create_keeping_the_text(client):
    """The issue asks for Cloud Elements' sanitising: markup removed, text kept. The reference
    itself is silent on it; the sandbox removes tags (as Django's strip_tags does)."""
    body = instance_body(
        new_code(client),
        name="<script>alert(1)</script><b>Finance</b> Dropbox",
        tags=["<i>finance</i>", "<img src=x onerror=alert(1)>"],
    )

    response = post_json(client, "/instances", body)

    assert response.status_code == 200, response.content
    assert response.json()["name"] == "alert(1)Finance Dropbox"
    assert response.json()["tags"] == ["finance"]


def test_markup_is_removed_on_patch_and_put(client):
    created = create_instance(client)
    path = f"/instances/{created['id']}"

    patched = patch_json(client, path, {"name": "<em>Sales</em> box", "tags": ["<u>q4</u>"]})
    assert patched.json()["name"] == "Sales box"
    assert patched.json()["tags"] == ["q4"]
    put = client.put(
        f"{API}{path}",
        {"name": "<h1>Ops</h1>", "tags": ["<b>ops</b>"]},
        content_type="application/json",
        HTTP_AUTHORIZATION=AUTH_HEADER,
    )
    assert put.json()["name"] == "Ops" and put.json()["tags"] == ["ops"]


def test_a_name_that_is_only_markup_is_refused(client):
    """The sandbox's choice: nothing is left after sanitising, so the name is missing (400)."""
    created = create_instance(client)

    response = patch_json(client, f"/instances/{created['id']}", {"name": "<b></b>"})

    assert_error(response, 400, naming="name")


# --- 4. Configuration entries ---------------------------------------------------------------


def entries(client, path: str, header: str = AUTH_HEADER) -> dict[str, dict]:
    response = call(client, "get", path, header)
    assert response.status_code == 200, response.content
    return {entry["key"]: entry for entry in response.json()}


def test_one_configuration_entry_is_read_and_patched_by_its_id(client):
    """Section 5: GET and PATCH `/instances/{id}/configuration/{configId}`; the body is the
    GET's object with `propertyValue` changed, as a string; a later GET shows it (churros)."""
    created = create_instance(client)
    entry = entries(client, f"/instances/{created['id']}/configuration")[
        "event.notification.enabled"
    ]
    path = f"/instances/{created['id']}/configuration/{entry['id']}"

    one = get(client, path)
    assert one.status_code == 200 and one.json() == entry
    patched = patch_json(client, path, {**entry, "propertyValue": "false"})

    assert patched.status_code == 200, patched.content
    assert patched.json()["id"] == entry["id"]
    assert get(client, path).json()["propertyValue"] == "false"
    assert get(client, f"/instances/{created['id']}").json()["eventsEnabled"] is False


def test_an_unknown_configuration_id_answers_404(client):
    created = create_instance(client)

    assert_error(get(client, f"/instances/{created['id']}/configuration/987654"), 404)


def test_a_secret_entry_read_by_id_is_masked(client):
    """Section 5: masked secrets appear as `propertyValue: '********'`."""
    created = create_instance(client)
    secret = entries(client, f"/instances/{created['id']}/configuration")["oauth.api.secret"]

    response = get(client, f"/instances/{created['id']}/configuration/{secret['id']}")

    assert response.json()["propertyValue"] == MASKED
    assert APP_SECRET not in response.content.decode()


def test_the_instance_token_forms_of_the_configuration_calls(client):
    """Section 5: "`GET` / `PATCH /instances/configuration[/{configId}]` ... the instance comes
    from the `Element <token>` part of the header"."""
    created = create_instance(client)
    header = with_token(created["token"])

    listed = entries(client, "/instances/configuration", header)
    assert listed == entries(client, f"/instances/{created['id']}/configuration")
    entry = listed["event.notification.enabled"]
    one = call(client, "get", f"/instances/configuration/{entry['id']}", header)
    assert one.status_code == 200 and one.json() == entry
    patched = call(
        client,
        "patch",
        f"/instances/configuration/{entry['id']}",
        header,
        {**entry, "propertyValue": "false"},
    )
    assert patched.status_code == 200, patched.content
    assert get(client, f"/instances/{created['id']}").json()["eventsEnabled"] is False


def test_the_instance_token_form_of_patch(client):
    """Section 5, events overview: "To update an active instance use the PATCH /instances ...
    endpoints"; with no id in the path the instance comes from the Element token (churros)."""
    created = create_instance(client)

    response = call(
        client, "patch", "/instances", with_token(created["token"]), {"name": "By token"}
    )

    assert response.status_code == 200, response.content
    assert response.json()["id"] == created["id"]
    assert get(client, f"/instances/{created['id']}").json()["name"] == "By token"


def test_the_token_forms_need_a_valid_element_token(client):
    created = create_instance(client)

    assert_error(call(client, "get", "/instances/configuration", AUTH_HEADER), 401)
    assert_error(call(client, "get", "/instances/configuration", with_token("nope")), 401)
    assert_error(
        call(client, "get", "/instances/configuration", f"Element {created['token']}"), 401
    )


def test_default_entries_are_reported_even_when_not_sent(client):
    """Section 4: events are "Optional ... Default `false`"; `filter.response.nulls` is a
    "Boolean, default `true`". Whether Cloud Elements also lists them in the instance object's
    `configuration` map is not documented: the sandbox lists them in the configuration entries
    only."""
    body = instance_body(new_code(client))
    del body["configuration"]["event.notification.enabled"]

    created = post_json(client, "/instances", body).json()
    listed = entries(client, f"/instances/{created['id']}/configuration")

    assert listed["event.notification.enabled"]["propertyValue"] == "false"
    assert listed["filter.response.nulls"]["propertyValue"] == "true"
    entry = listed["filter.response.nulls"]
    path = f"/instances/{created['id']}/configuration/{entry['id']}"
    assert patch_json(client, path, {**entry, "propertyValue": "false"}).status_code == 200
    assert get(client, path).json()["propertyValue"] == "false"


def test_patching_an_entry_with_a_masked_value_is_refused(client):
    """The sandbox's choice: "never send a returned configuration object back as-is"."""
    created = create_instance(client)
    entry = entries(client, f"/instances/{created['id']}/configuration")[
        "event.notification.signature.key"
    ]

    response = patch_json(client, f"/instances/{created['id']}/configuration/{entry['id']}", entry)

    assert_error(response, 400)
    stored = SandboxInstance.objects.get(pk=created["id"]).full_configuration()
    assert stored["event.notification.signature.key"] == SIGNING_KEY


# --- 5. Disable and enable ------------------------------------------------------------------


def test_disable_and_enable_by_id_keep_the_configuration(client):
    """Section 5: `DELETE` / `PUT /instances/{id}/enabled` disable or enable "without losing
    its configuration". The response body is not documented; the sandbox answers the instance."""
    created = create_instance(client)
    before = entries(client, f"/instances/{created['id']}/configuration")

    disabled = client.delete(
        f"{API}/instances/{created['id']}/enabled", HTTP_AUTHORIZATION=AUTH_HEADER
    )
    assert disabled.status_code == 200
    assert get(client, f"/instances/{created['id']}").json()["disabled"] is True
    assert entries(client, f"/instances/{created['id']}/configuration") == before
    enabled = client.put(f"{API}/instances/{created['id']}/enabled", HTTP_AUTHORIZATION=AUTH_HEADER)
    assert enabled.status_code == 200
    again = get(client, f"/instances/{created['id']}").json()
    assert again["disabled"] is False
    assert again["token"] == created["token"]
    assert entries(client, f"/instances/{created['id']}/configuration") == before


def test_disable_and_enable_with_the_element_token(client):
    """Section 2: `/instances/enabled` needs `User …, Organization …, Element <token>`."""
    created = create_instance(client)
    header = with_token(created["token"])

    assert call(client, "delete", "/instances/enabled", header).status_code == 200
    assert get(client, f"/instances/{created['id']}").json()["disabled"] is True
    assert call(client, "put", "/instances/enabled", header).status_code == 200
    assert get(client, f"/instances/{created['id']}").json()["disabled"] is False


@pytest.mark.parametrize(
    "header",
    [AUTH_HEADER, f"User {USER_SECRET}, Element {{token}}", f"{AUTH_HEADER}, Element wrong"],
    ids=["no element token", "no organization", "wrong token"],
)
def test_the_token_form_of_enabled_needs_all_three_parts(client, header):
    created = create_instance(client)

    response = call(client, "delete", "/instances/enabled", header.format(token=created["token"]))

    assert_error(response, 401)
    assert get(client, f"/instances/{created['id']}").json()["disabled"] is False


# --- 6. A minimal hub call ------------------------------------------------------------------

HUB = "/hubs/documents/folders/contents?path=/"


def test_a_hub_call_answers_with_the_instance_id_header(client):
    """Section 2: hub calls use `User …, Element <token>`; responses "carry an
    `elements-element-instance-id` response header" (churros)."""
    created = create_instance(client)

    response = call(client, "get", HUB, with_token(created["token"], organization=False))

    assert response.status_code == 200, response.content
    assert response["elements-element-instance-id"] == str(created["id"])
    triple = call(client, "get", HUB, with_token(created["token"]))
    assert triple.status_code == 200


def test_a_hub_call_to_a_disabled_instance_is_forbidden(client):
    """Section 4, Errors: "a hub call to a disabled instance returns **403**" (churros)."""
    created = create_instance(client)
    client.delete(f"{API}/instances/{created['id']}/enabled", HTTP_AUTHORIZATION=AUTH_HEADER)

    assert_error(call(client, "get", HUB, with_token(created["token"])), 403)
    client.put(f"{API}/instances/{created['id']}/enabled", HTTP_AUTHORIZATION=AUTH_HEADER)
    assert call(client, "get", HUB, with_token(created["token"])).status_code == 200


def test_a_hub_call_with_a_deleted_instances_token_is_unauthorized(client):
    """Section 4, Errors: "a hub call with the token of a deleted instance returns **401**"."""
    created = create_instance(client)
    client.delete(f"{API}/instances/{created['id']}", HTTP_AUTHORIZATION=AUTH_HEADER)

    assert_error(call(client, "get", HUB, with_token(created["token"])), 401)


def test_a_hub_call_needs_the_user_secret(client):
    created = create_instance(client)

    assert_error(call(client, "get", HUB, f"User wrong, Element {created['token']}"), 401)


NEW_ENDPOINTS = [
    ("get", "/elements/14/instances"),
    ("get", "/elements/dropbox/instances/{id}"),
    ("get", "/instances/{id}/configuration/1"),
    ("patch", "/instances/{id}/configuration/1"),
    ("put", "/instances/{id}/enabled"),
    ("delete", "/instances/{id}/enabled"),
    ("get", "/instances/events"),
    ("get", "/instances/{id}/events"),
]


@pytest.mark.parametrize(("method", "path"), NEW_ENDPOINTS, ids=map(" ".join, NEW_ENDPOINTS))
def test_the_new_platform_endpoints_answer_401_without_the_secrets(client, method, path):
    """Section 2: platform calls need `User …, Organization …`; section 4: 401 is "an invalid
    element token, user secret and/or org secret"."""
    created = create_instance(client)
    body = {"propertyValue": "false"} if method == "patch" else None

    response = call(client, method, path.format(id=created["id"]), "User wrong", body)

    assert_error(response, 401)
    assert get(client, f"/instances/{created['id']}").json()["disabled"] is False
