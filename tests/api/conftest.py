"""The API through real HTTP: a live server (whose sandbox stands in for Cloud Elements), tokens
made as the tokens page makes them, and `requests` with `Authorization: Bearer <token>`."""

from __future__ import annotations

import pytest
import requests
from django.core.cache import cache

from instances.api import tokens

# The live server answers from other threads: its requests must see committed rows.
live = pytest.mark.django_db(transaction=True)


def bearer(user, *scopes: str, name: str = "onboarding service", expires_at=None) -> str:
    """A new token's secret (as shown once on the tokens page)."""
    made = tokens.make(
        user=user, name=name, scopes=list(scopes) or ["read", "write"], expires_at=expires_at
    )
    return made.secret


class Api:
    """`requests` against /api/v1 of the live server, with a bearer token (or none)."""

    def __init__(self, site_url: str, secret: str | None = None) -> None:
        self.site_url = site_url
        self.root = site_url + "/api/v1"
        self.session = requests.Session()
        if secret is not None:
            self.session.headers["Authorization"] = f"Bearer {secret}"

    def request(self, method: str, path: str, **kwargs) -> requests.Response:
        url = path if path.startswith("http") else self.root + path
        return self.session.request(method, url, timeout=30, allow_redirects=False, **kwargs)

    def get(self, path: str, **kwargs) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs) -> requests.Response:
        return self.request("POST", path, **kwargs)

    def put(self, path: str, **kwargs) -> requests.Response:
        return self.request("PUT", path, **kwargs)

    def patch(self, path: str, **kwargs) -> requests.Response:
        return self.request("PATCH", path, **kwargs)

    def delete(self, path: str, **kwargs) -> requests.Response:
        return self.request("DELETE", path, **kwargs)


def media_type(response: requests.Response) -> str:
    return response.headers.get("Content-Type", "").split(";")[0].strip()


def ok(response: requests.Response, status: int = 200) -> dict:
    """The JSON body of an answer that must have succeeded with `status`."""
    assert response.status_code == status, (response.status_code, response.text[:500])
    assert media_type(response) == "application/json", response.headers
    return response.json()


def refused(response: requests.Response, status: int) -> dict:
    """The body of a refusal: JSON (never the site's HTML page) with a `detail` sentence."""
    assert response.status_code == status, (response.status_code, response.text[:500])
    assert media_type(response) == "application/json", response.headers
    body = response.json()
    assert isinstance(body["detail"], str) and body["detail"].strip(), body
    assert "<html" not in response.text.lower()
    return body


@pytest.fixture(autouse=True)
def _fresh_cache():
    """The rate limit and "last used" marks live in Django's cache, keyed by token id: ids come
    back after a transactional test's flush, so no count may leak from one test to the next."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def api(sandbox_site):
    """`api(secret)`: a client of the live server's API with that token (None: no header)."""
    made: list[Api] = []

    def make(secret: str | None = None) -> Api:
        client = Api(sandbox_site.url, secret)
        made.append(client)
        return client

    yield make
    for client in made:
        client.session.close()


@pytest.fixture
def alice(api, operator) -> Api:
    """The operator's read+write token."""
    return api(bearer(operator, "read", "write"))
