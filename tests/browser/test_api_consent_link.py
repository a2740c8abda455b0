"""Consent by link through the API, end to end: the team's software asks the API for a link
(a new draft from the documented parameters), the account owner opens it in a browser (no
sign-in), consents on the sandbox's Dropbox screen, and the API then reports the link completed
and the instance active at Cloud Elements. And the API's documentation page in a browser."""

from __future__ import annotations

import re

import pytest
import requests
from django.core.cache import cache
from playwright.sync_api import expect

from instances.api import tokens
from instances.cloud_elements import client as ce
from instances.models import ElementInstance
from tests.browser.test_consent_link import allow
from tests.sandbox_helpers import APP_KEY, APP_SECRET

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def fresh_rate_limit():
    # The live server runs in this process: its cache (rate counters) is this one.
    cache.clear()


@pytest.fixture
def api(operator, sandbox_site):
    """requests against the live server with a read+write token of the operator."""
    made = tokens.make(
        user=operator, name="onboarding service", scopes=["read", "write"], expires_at=None
    )
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {made.secret}"

    def call(method: str, path: str, **kwargs) -> requests.Response:
        response = session.request(method, f"{sandbox_site.url}/api/v1{path}", timeout=15, **kwargs)
        assert response.headers["Content-Type"].startswith("application/json"), response.text
        return response

    yield call
    session.close()


def test_a_link_made_by_the_api_connects_the_owner_and_the_api_sees_it_active(
    api, owner_page, sandbox_site
):
    made = api(
        "POST",
        "/consent-links",
        json={
            "new_instance": {
                "name": "API Customer Dropbox",
                "oauth_api_key": APP_KEY,
                "oauth_api_secret": APP_SECRET,
                "tags": ["api", "onboarding"],
                "owner_name": "Bob Owner",
                "owner_email": "bob@customer.example",
            },
            "note": "bob@customer.example",
        },
    )
    assert made.status_code == 201, made.text
    link = made.json()
    assert link["state"] == "waiting"
    assert link["purpose"] == "create"
    assert link["opened_at"] is None and link["used_at"] is None
    assert link["instance"]["name"] == "API Customer Dropbox"
    assert link["instance"]["status"] == "draft"
    assert link["instance"]["cloud_elements_id"] is None
    assert re.fullmatch(re.escape(sandbox_site.url) + r"/connect/[A-Za-z0-9_-]{43}/", link["url"])
    uuid = link["instance"]["uuid"]

    draft = api("GET", f"/instances/{uuid}").json()
    assert draft["status"] == "draft"
    assert draft["owner"] == {"name": "Bob Owner", "email": "bob@customer.example"}
    # The callback defaulted to this dashboard's (SITE_URL is the live server's address).
    stored = ElementInstance.objects.get(uuid=uuid)
    assert stored.oauth_callback_url == f"{sandbox_site.url}/instances/oauth/callback/"

    owner_page.goto(link["url"])
    expect(owner_page.locator("#content")).to_contain_text("API Customer Dropbox")
    expect(owner_page.get_by_role("link", name="Instances")).to_have_count(0)  # not signed in
    assert api("GET", f"/consent-links/{link['id']}").json()["state"] == "opened"
    allow(owner_page, link["url"])
    expect(
        owner_page.get_by_role("heading", name="Connected — you can close this page")
    ).to_be_visible()
    assert "code=" not in owner_page.url

    after = api("GET", f"/consent-links/{link['id']}")
    assert after.status_code == 200, after.text
    after = after.json()
    assert after["state"] == "completed"
    assert after["used_at"] is not None
    assert after["url"] is None  # spent: nothing left to send
    assert after["instance"]["uuid"] == uuid
    assert after["instance"]["status"] == "active"
    remote_id = after["instance"]["cloud_elements_id"]
    assert isinstance(remote_id, int)

    instance = api("GET", f"/instances/{uuid}")
    assert instance.status_code == 200, instance.text
    instance = instance.json()
    assert instance["status"] == "active"
    assert instance["cloud_elements_id"] == remote_id
    assert instance["valid_at_cloud_elements"] is True
    assert instance["tags"] == ["api", "onboarding"]
    assert instance["url"] == f"{sandbox_site.url}/instances/{uuid}/"
    # Really created at (the sandbox standing in for) Cloud Elements, with the API's name.
    assert ce.get_instance(remote_id).name == "API Customer Dropbox"

    listed = api("GET", "/instances", params={"status": "active", "q": "API Customer"}).json()
    assert [row["uuid"] for row in listed["items"]] == [uuid]

    # Spent: the owner cannot use it twice, and the API cannot revoke it any more.
    assert owner_page.goto(link["url"]).status == 410
    assert api("DELETE", f"/consent-links/{link['id']}").status_code == 409


def test_the_api_documentation_renders_in_a_browser_without_csp_errors(page, sandbox_site):
    problems: list[str] = []
    page.on(
        "console",
        lambda message: problems.append(message.text) if message.type == "error" else None,
    )
    page.on("pageerror", lambda error: problems.append(str(error)))
    failed: list[str] = []
    page.on("requestfailed", lambda request: failed.append(request.url))

    response = page.goto("/api/v1/docs")
    assert response.status == 200
    assert "Content-Security-Policy" in {k.title() for k in response.headers}
    expect(page).to_have_title("Cloud Elements instances dashboard API")
    expect(page.locator("#swagger-ui")).to_contain_text("Cloud Elements instances dashboard API")
    expect(page.get_by_text("List instances", exact=True)).to_be_visible()
    expect(page.get_by_text("Make a consent link", exact=True)).to_be_visible()
    expect(page.get_by_role("button", name=re.compile("Authorize"))).to_be_visible()

    # An operation opens, with its parameters (the schema was read and rendered).
    page.get_by_text("List instances", exact=True).click()
    expect(page.locator(".parameters").first).to_contain_text("cursor")
    page.wait_for_load_state("networkidle")
    assert not failed, failed
    csp = [p for p in problems if "Content Security Policy" in p or "Refused to" in p]
    assert not csp, csp
    assert not problems, problems
