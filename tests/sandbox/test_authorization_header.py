"""Every sandbox API endpoint wants the documented `User <secret>, Organization <secret>` header.

Without both secrets, in any wrong form, each endpoint answers 401 in the documented error shape
and changes nothing; with an `Element <token>` appended, as Cloud Elements allows, the header is
still accepted.
"""

from __future__ import annotations

import pytest

from instances.sandbox.models import SandboxInstance
from tests.conftest import AUTH_HEADER, ORG_SECRET, USER_SECRET
from tests.sandbox.contract import (
    API,
    APP_KEY,
    CALLBACK_URL,
    assert_error,
)

pytestmark = pytest.mark.django_db


BAD_HEADERS = {
    "missing": None,
    "empty": "",
    "wrong user secret": f"User wrong, Organization {ORG_SECRET}",
    "wrong organization secret": f"User {USER_SECRET}, Organization wrong",
    "user only": f"User {USER_SECRET}",
    "secrets swapped": f"User {ORG_SECRET}, Organization {USER_SECRET}",
    "bearer": f"Bearer {USER_SECRET}",
}


@pytest.fixture
def stored_instance(db) -> SandboxInstance:
    instance = SandboxInstance(element_key="dropbox", name="Stored", token="stored-token")
    instance.set_configuration({"oauth.api.key": APP_KEY, "oauth.callback.url": CALLBACK_URL})
    instance.save()
    return instance


def call(client, method: str, path: str, header: str | None):
    headers = {} if header is None else {"HTTP_AUTHORIZATION": header}
    body = {"name": "x"} if method in {"post", "patch", "put"} else None
    kwargs = {"content_type": "application/json"} if body is not None else {}
    if body is not None:
        return getattr(client, method)(f"{API}{path}", body, **kwargs, **headers)
    return getattr(client, method)(f"{API}{path}", **headers)


ENDPOINTS = [
    ("get", "/elements/dropbox/oauth/url?apiKey=k&apiSecret=s&callbackUrl=http://a.b/&state=s"),
    ("post", "/instances"),
    ("post", "/elements/dropbox/instances"),
    ("get", "/instances"),
    ("get", "/instances/{id}"),
    ("patch", "/instances/{id}"),
    ("put", "/instances/{id}"),
    ("delete", "/instances/{id}"),
    ("get", "/instances/{id}/configuration"),
]


@pytest.mark.parametrize("header", BAD_HEADERS.values(), ids=BAD_HEADERS.keys())
@pytest.mark.parametrize(("method", "path"), ENDPOINTS, ids=[f"{m} {p}" for m, p in ENDPOINTS])
def test_it_answers_401_without_the_user_and_organization_secrets(
    client, stored_instance, method, path, header
):
    response = call(client, method, path.format(id=stored_instance.id), header)

    assert_error(response, 401)
    stored_instance.refresh_from_db()
    assert stored_instance.name == "Stored"
    assert SandboxInstance.objects.count() == 1


def test_it_accepts_the_header_with_an_element_token_appended(client, stored_instance):
    header = f"{AUTH_HEADER}, Element {stored_instance.token}"

    response = client.get(f"{API}/instances/{stored_instance.id}", HTTP_AUTHORIZATION=header)

    assert response.status_code == 200
    assert response.json()["id"] == stored_instance.id
