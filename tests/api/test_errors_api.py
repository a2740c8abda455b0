"""Every kind of refusal the API gives, over real HTTP: always JSON (never the site's HTML page)
with a `detail` sentence, and `errors` per field for a 400."""

from __future__ import annotations

import time
import uuid
from datetime import timedelta

from django.utils import timezone

from instances.api import tokens
from instances.api.models import ApiToken
from instances.jobs.models import Job
from instances.links.models import ConsentLink
from instances.models import AuditEntry, ElementInstance
from tests.api.conftest import bearer, live, ok, refused
from tests.api.test_instances_api import closed_port_url
from tests.job_helpers import away_from_a_period_boundary, sandboxed

Status = ElementInstance.Status
Action = AuditEntry.Action
UNKNOWN_UUID = "8d3c5a52-2f0e-4c61-9d1e-3b5d7c1f0a99"


# --- 400: what the client sent ------------------------------------------------------------------


@live
def test_bad_filters_are_named_field_by_field(alice, make_instance):
    make_instance("Any")
    cases = {
        "status=nope": "status",
        "events=sometimes": "events",
        "owner=maybe": "owner",
        "limit=0": "limit",
        "limit=201": "limit",
        "limit=abc": "limit",
        "cursor=not-a-cursor": "cursor",
        "cursor=123": "cursor",
    }
    for query, field in cases.items():
        body = refused(alice.get(f"/instances?{query}"), 400)
        assert list(body["errors"]) == [field], (query, body)
        assert body["errors"][field] and all(isinstance(e, str) for e in body["errors"][field])
    assert refused(alice.get("/instances?limit=201"), 400)["errors"]["limit"] == ["From 1 to 200."]
    # The limits themselves are accepted.
    assert len(ok(alice.get("/instances?limit=1"))["items"]) == 1
    assert len(ok(alice.get("/instances?limit=200"))["items"]) == 1


@live
def test_a_body_that_is_not_json_cannot_be_parsed(alice, make_instance):
    instance = make_instance("Parsed")
    for path, method in [
        (f"/instances/{instance.uuid}", "PATCH"),
        (f"/instances/{instance.uuid}/events-enabled", "PUT"),
        ("/consent-links", "POST"),
        ("/jobs", "POST"),
    ]:
        response = alice.request(
            method, path, data="{not json", headers={"Content-Type": "application/json"}
        )
        body = refused(response, 400)
        assert body["detail"] == (
            "The body must be a JSON object (Content-Type: application/json)."
        ), (path, body)
    instance.refresh_from_db()
    assert instance.name == "Parsed"


@live
def test_wrong_types_are_named_by_the_clients_field_names(alice, make_instance):
    instance = make_instance("Typed")

    body = refused(alice.patch(f"/instances/{instance.uuid}", json={"name": 5, "tags": "x"}), 400)
    assert sorted(body["errors"]) == ["name", "tags"]

    body = refused(
        alice.put(f"/instances/{instance.uuid}/events-enabled", json={"enabled": "maybe"}), 400
    )
    assert list(body["errors"]) == ["enabled"]

    body = refused(alice.post("/jobs", json={"kind": "explode", "instances": []}), 400)
    assert list(body["errors"]) == ["kind"]

    body = refused(alice.post("/consent-links", json={"new_instance": {"name": "No secrets"}}), 400)
    assert sorted(body["errors"]) == ["new_instance.oauth_api_key", "new_instance.oauth_api_secret"]

    body = refused(alice.post("/jobs", json={"kind": "sync", "instances": ["not-a-uuid"]}), 400)
    assert list(body["errors"]) == ["instances.0"]
    assert not Job.objects.exists()


@live
def test_a_missing_body_is_named_as_the_client_knows_it(alice, make_instance):
    """Without a body, the error names the body, never the operation's Python parameter (the
    `invalid` handler in urls.py strips that name only when a field follows it)."""
    instance = make_instance("Bodiless")
    for method, path in [
        ("PATCH", f"/instances/{instance.uuid}"),
        ("PUT", f"/instances/{instance.uuid}/events-enabled"),
        ("POST", "/consent-links"),
        ("POST", "/jobs"),
    ]:
        body = refused(alice.request(method, path), 400)
        assert list(body["errors"]) == ["body"], (method, path, body)


@live
def test_a_body_that_is_not_an_object_is_refused(alice, make_instance):
    """JSON that is not an object (a list, a string, a number) is no set of changes: 400, not
    a 200 that changed nothing."""
    instance = make_instance("Objective", status=Status.ACTIVE, remote_id=4321)
    instance.webhook.callback_url = "https://hooks.example.com/in/"
    instance.webhook.save()
    for body in (["name", "Renamed"], "Renamed", 5):
        refused(alice.patch(f"/instances/{instance.uuid}", json=body), 400)


@live
def test_a_misspelt_field_is_refused_rather_than_ignored(alice, make_instance):
    instance = make_instance("Spelled", status=Status.ACTIVE, remote_id=4322)
    answer = refused(alice.patch(f"/instances/{instance.uuid}", json={"nmae": "X"}), 400)
    assert list(answer["errors"]) == ["nmae"]
    new = {"name": "N", "oauth_api_key": "k", "oauth_api_secret": "s", "colour": "red"}
    answer = refused(alice.post("/consent-links", json={"new_instance": new}), 400)
    assert list(answer["errors"]) == ["new_instance.colour"]
    instance.refresh_from_db()
    assert instance.name == "Spelled" and not ConsentLink.objects.exists()


@live
def test_a_job_over_more_than_ten_thousand_uuids_is_refused_not_cut(alice):
    many = [str(uuid.uuid4()) for _ in range(10_001)]
    answer = refused(alice.post("/jobs", json={"kind": "sync", "instances": many}), 400)
    assert list(answer["errors"]) == ["instances"]
    assert not Job.objects.exists()


@live
def test_either_one_or_the_other(alice, make_instance):
    draft = make_instance("Either")
    new = {"name": "New", "oauth_api_key": "k", "oauth_api_secret": "s"}
    for body in ({}, {"instance": str(draft.uuid), "new_instance": new}):
        answer = refused(alice.post("/consent-links", json=body), 400)
        assert list(answer["errors"]) == ["instance"]
    for body in ({"kind": "sync"}, {"kind": "sync", "instances": [], "filter": {}}):
        answer = refused(alice.post("/jobs", json=body), 400)
        assert list(answer["errors"]) == ["instances"]
    assert not ConsentLink.objects.exists() and not Job.objects.exists()


@live
def test_a_job_refused_before_it_starts(alice, make_instance):
    make_instance("Lonely")
    body = refused(alice.post("/jobs", json={"kind": "sync", "filter": {"staus": "active"}}), 400)
    assert body["errors"] == {"staus": ["No such filter."]}
    body = refused(alice.post("/jobs", json={"kind": "sync", "filter": {"status": "nope"}}), 400)
    assert list(body["errors"]) == ["status"]
    body = refused(alice.post("/jobs", json={"kind": "sync", "filter": {"q": "no match"}}), 400)
    assert "No instance matches" in body["detail"]
    body = refused(alice.post("/jobs", json={"kind": "sync", "instances": [UNKNOWN_UUID]}), 400)
    assert "No instances were selected" in body["detail"]
    assert not Job.objects.exists()


# --- 401: who calls -----------------------------------------------------------------------------


def unauthenticated(response) -> None:
    body = refused(response, 401)
    assert "valid API token" in body["detail"]
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="api"'


@live
def test_no_token_or_an_unknown_one(api, operator, make_instance):
    make_instance("Hidden")
    unauthenticated(api(None).get("/instances"))
    unauthenticated(api("ced_" + "x" * 43).get("/instances"))
    unauthenticated(api("not-even-a-token").get("/instances"))
    secret = bearer(operator)
    basic = api(None).get("/instances", headers={"Authorization": f"Basic {secret}"})
    unauthenticated(basic)
    # A write needs a token as much as a read.
    unauthenticated(api(None).post("/jobs", json={"kind": "sync", "filter": {}}))
    assert ok(api(secret).get("/instances"))["matching"] == 1


@live
def test_a_revoked_token(api, operator):
    secret = bearer(operator)
    client = api(secret)
    ok(client.get("/instances"))
    tokens.revoke(token=ApiToken.objects.get())
    unauthenticated(client.get("/instances"))


@live
def test_an_expired_token(api, operator):
    secret = bearer(operator, expires_at=timezone.now() + timedelta(days=1))
    client = api(secret)
    ok(client.get("/instances"))
    ApiToken.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    unauthenticated(client.get("/instances"))


@live
def test_the_token_of_a_user_who_may_no_longer_sign_in(api, operator, outsider):
    secret = bearer(operator)
    client = api(secret)
    ok(client.get("/instances"))
    operator.is_active = False
    operator.save()
    unauthenticated(client.get("/instances"))
    # A user who is not staff never could.
    unauthenticated(api(bearer(outsider)).get("/instances"))


# --- 403 (more in test_permissions_api.py) -------------------------------------------------


@live
def test_a_read_token_cannot_write(api, operator, make_instance):
    instance = make_instance("Read only")
    body = refused(api(bearer(operator, "read")).patch(f"/instances/{instance.uuid}", json={}), 403)
    assert body["detail"] == "This token has no “write” scope."


# --- 404: what is not there ---------------------------------------------------------------------


@live
def test_unknown_things_and_addresses(alice, sandbox_site, api):
    for path in [
        f"/instances/{UNKNOWN_UUID}",
        "/instances/not-a-uuid",
        f"/instances/{UNKNOWN_UUID}/sync",
    ]:
        method = "POST" if path.endswith("sync") else "GET"
        assert "No instance has this uuid" in refused(alice.request(method, path), 404)["detail"]
    assert "No consent link" in refused(alice.get("/consent-links/999999"), 404)["detail"]
    assert "No consent link" in refused(alice.delete("/consent-links/999999"), 404)["detail"]
    assert "No job" in refused(alice.get("/jobs/999999"), 404)["detail"]
    assert "No job" in refused(alice.post("/jobs/999999/cancel"), 404)["detail"]
    # Addresses the API does not have: JSON too, with or without a token.
    for client in (alice, api(None)):
        for url in ["/xyz", "/instances/", "/jobs/1/explode"]:
            assert "No such API address" in refused(client.get(url), 404)["detail"]
        for url in ["/api/zzz", "/api/", "/api/v2/instances", "/api/v1"]:
            body = refused(client.get(sandbox_site.url + url), 404)
            assert "No such API address" in body["detail"]


@live
def test_a_method_an_address_does_not_have_is_answered_in_json(alice, make_instance):
    """`PUT` on an instance, `GET` on /jobs: the address exists, the method does not (405).
    The API answers JSON only."""
    instance = make_instance("Methodical")
    for method, path in [("PUT", f"/instances/{instance.uuid}"), ("GET", "/jobs")]:
        response = alice.request(method, path)
        body = refused(response, 405)
        assert body["detail"]


# --- 409: what the instance's state does not allow ------------------------------------------------


@live
def test_what_a_draft_or_a_deleted_instance_does_not_allow(alice, make_instance):
    draft = make_instance("Only a draft")
    for action in ("disable", "enable", "sync"):
        body = refused(alice.post(f"/instances/{draft.uuid}/{action}"), 409)
        assert "is draft, not active at Cloud Elements" in body["detail"]
    body = refused(
        alice.put(f"/instances/{draft.uuid}/events-enabled", json={"enabled": True}), 409
    )
    assert body["detail"] == (
        "“Only a draft” is draft, not active at Cloud Elements, so there is nothing to change "
        "there."
    )
    renamed = {"name": "Renamed", "event_callback_url": "https://hooks.example.com/in/"}
    body = refused(alice.patch(f"/instances/{draft.uuid}", json=renamed), 409)
    assert "is draft" in body["detail"]
    draft.refresh_from_db()
    assert draft.name == "Only a draft" and draft.webhook.enabled is False
    assert not draft.audit_entries.exclude(action=Action.DRAFTED).exists()

    gone = make_instance("Already gone", status=Status.DELETED)
    assert "already deleted" in refused(alice.delete(f"/instances/{gone.uuid}"), 409)["detail"]
    body = refused(alice.post("/consent-links", json={"instance": str(gone.uuid)}), 409)
    assert "is deleted" in body["detail"]


@live
def test_revoking_a_revoked_link_or_cancelling_a_cancelled_job(alice, make_instance):
    draft = make_instance("Linked")
    link = ok(alice.post("/consent-links", json={"instance": str(draft.uuid)}), 201)
    ok(alice.delete(f"/consent-links/{link['id']}"))
    body = refused(alice.delete(f"/consent-links/{link['id']}"), 409)
    assert body["detail"] == "This link was already used or revoked."

    job = ok(alice.post("/jobs", json={"kind": "sync", "instances": [str(draft.uuid)]}), 201)
    ok(alice.post(f"/jobs/{job['id']}/cancel"))
    body = refused(alice.post(f"/jobs/{job['id']}/cancel"), 409)
    assert "already cancelled" in body["detail"]


# --- 429: too many requests -------------------------------------------------------------------


@live
def test_too_many_requests_for_one_token(api, operator, settings):
    settings.API_RATE_LIMIT_PER_MINUTE = 3
    busy, other = api(bearer(operator, name="busy")), api(bearer(operator, name="other"))
    away_from_a_period_boundary(seconds_needed=4)
    for _ in range(3):
        ok(busy.get("/instances"))

    response = busy.get("/instances")
    body = refused(response, 429)
    wait = int(response.headers["Retry-After"])
    assert 1 <= wait <= 60
    assert abs(wait - (60 - int(time.time()) % 60)) <= 1
    assert f"retry in {wait} s" in body["detail"]
    # Writes are counted and refused alike; another token of the same user is not.
    assert refused(busy.post("/jobs", json={"kind": "sync", "filter": {}}), 429)
    ok(other.get("/instances"))


# --- 502: Cloud Elements failing ----------------------------------------------------------------


@live
def test_cloud_elements_unreachable(alice, make_instance, sandbox_site, settings):
    [instance] = sandboxed(make_instance, sandbox_site.url, 1, prefix="Unreachable")
    settings.CLOUD_ELEMENTS_BASE_URL = closed_port_url()

    body = refused(
        alice.put(f"/instances/{instance.uuid}/events-enabled", json={"enabled": True}), 502
    )
    assert body["detail"].startswith("Cloud Elements: ")
    assert "connection refused" in body["detail"]

    instance.refresh_from_db()
    assert instance.webhook.enabled is False and instance.remote_disabled is False
    assert instance.status == Status.ACTIVE
    assert instance.audit_entries.filter(action=Action.REMOTE_ERROR).count() == 1


@live
def test_cloud_elements_refusing_a_change(alice, make_instance):
    """Cloud Elements answers 404 for an instance it no longer has: the change is refused
    with 502 and nothing changes here."""
    instance = make_instance("Vanished", status=Status.ACTIVE, remote_id=987654)
    instance.webhook.callback_url = "https://hooks.example.com/in/"
    instance.webhook.save()

    body = refused(alice.patch(f"/instances/{instance.uuid}", json={"name": "Renamed"}), 502)

    assert body["detail"].startswith("Cloud Elements: ")
    instance.refresh_from_db()
    assert instance.name == "Vanished"
    assert instance.audit_entries.filter(action=Action.REMOTE_ERROR).count() == 1
    assert not instance.audit_entries.filter(action=Action.UPDATED).exists()


@live
def test_a_signed_in_browser_session_without_a_token_is_not_let_in(client, operator, make_instance):
    """The API is exempt from CSRF checks because it reads a bearer token only: the dashboard's
    session cookie (what a cross-site form would carry) gets 401 and changes nothing."""
    instance = make_instance("Cookie", status=Status.ACTIVE, remote_id=4323)
    client.force_login(operator)
    answer = client.patch(
        f"/api/v1/instances/{instance.uuid}",
        data='{"owner_email": "evil@example.com"}',
        content_type="application/json",
    )
    assert answer.status_code == 401 and answer.json()["detail"].startswith("A valid API token")
    assert client.get("/api/v1/instances").status_code == 401
    instance.refresh_from_db()
    assert instance.owner_email == ""
