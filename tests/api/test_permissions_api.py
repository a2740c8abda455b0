"""Who may do what through the API: a token's scopes (read, write) and its user's permissions,
both needed; a token that is revoked, expired, or whose user may no longer sign in, is refused
at every address. Nothing refused changes anything."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission, User
from django.utils import timezone

from instances.api import tokens
from instances.api.models import ApiToken
from instances.jobs import services as jobs
from instances.jobs.models import Job
from instances.links import services as links
from instances.links.models import ConsentLink
from instances.models import AuditEntry, ElementInstance
from tests.api.conftest import bearer, live, ok, refused
from tests.conftest import PASSWORD
from tests.job_helpers import sandboxed

NO_WRITE = "This token has no “write” scope."
NO_READ = "This token has no “read” scope."
NOT_ALLOWED = "The token's user is not allowed to do this."


@dataclass
class World:
    active: ElementInstance
    link: ConsentLink
    job: Job

    def reads(self) -> list[tuple[str, str, dict | None]]:
        return [
            ("GET", "/instances", None),
            ("GET", f"/instances/{self.active.uuid}", None),
            ("GET", f"/consent-links/{self.link.pk}", None),
            ("GET", f"/jobs/{self.job.pk}", None),
        ]

    def writes(self) -> list[tuple[str, str, dict | None]]:
        uuid = self.active.uuid
        new = {"name": "Refused", "oauth_api_key": "k", "oauth_api_secret": "s"}
        return [
            ("PATCH", f"/instances/{uuid}", {"name": "Refused", "owner_email": "x@example.com"}),
            ("PUT", f"/instances/{uuid}/events-enabled", {"enabled": True}),
            ("POST", f"/instances/{uuid}/disable", None),
            ("POST", f"/instances/{uuid}/enable", None),
            ("POST", f"/instances/{uuid}/sync", None),
            ("DELETE", f"/instances/{uuid}", None),
            ("POST", "/consent-links", {"instance": str(uuid)}),
            ("POST", "/consent-links", {"new_instance": new}),
            ("DELETE", f"/consent-links/{self.link.pk}", None),
            ("POST", "/jobs", {"kind": "sync", "instances": [str(uuid)]}),
            ("POST", "/jobs", {"kind": "sync", "filter": {}}),
            ("POST", f"/jobs/{self.job.pk}/cancel", None),
        ]

    def snapshot(self) -> tuple:
        """Everything a write would change."""
        self.active.refresh_from_db()
        return (
            self.active.name,
            self.active.status,
            self.active.owner_email,
            self.active.remote_disabled,
            self.active.synced_at,
            ElementInstance.objects.count(),
            AuditEntry.objects.count(),
            list(ConsentLink.objects.values_list("pk", "revoked_at")),
            list(Job.objects.values_list("pk", "status")),
        )


@pytest.fixture
def world(make_instance, sandbox_site, operator) -> World:
    [active] = sandboxed(make_instance, sandbox_site.url, 1, prefix="Guarded")
    draft = make_instance("Guarded draft")
    link = links.make_link(instance=draft, actor=operator)
    job = jobs.start_job(kind="sync", instances=[active.pk], actor=operator)
    return World(active=active, link=link, job=job)


def call(client, method: str, path: str, body: dict | None):
    return client.request(method, path, **({"json": body} if body is not None else {}))


@live
def test_a_read_token_reads_and_cannot_write(api, world, operator):
    client = api(bearer(operator, "read"))
    before = world.snapshot()

    for method, path, body in world.writes():
        assert refused(call(client, method, path, body), 403)["detail"] == NO_WRITE, path
    for method, path, body in world.reads():
        ok(call(client, method, path, body))

    assert world.snapshot() == before


@live
def test_a_write_token_cannot_read(api, world, operator):
    client = api(bearer(operator, "write"))
    for method, path, body in world.reads():
        assert refused(call(client, method, path, body), 403)["detail"] == NO_READ, path
    # It can write.
    assert ok(client.post(f"/instances/{world.active.uuid}/sync"))["uuid"] == str(world.active.uuid)


@live
def test_a_view_only_users_write_token_cannot_write(api, world, viewer):
    client = api(bearer(viewer, "read", "write"))
    before = world.snapshot()

    for method, path, body in world.writes():
        assert refused(call(client, method, path, body), 403)["detail"] == NOT_ALLOWED, path
    # Reads work, but for a job someone else started (as on the job's page).
    ok(client.get("/instances"))
    ok(client.get(f"/instances/{world.active.uuid}"))
    body = refused(client.get(f"/jobs/{world.job.pk}"), 403)
    assert body["detail"] == "This job was started by someone else."

    assert world.snapshot() == before


@live
def test_a_view_only_user_is_not_given_a_usable_consent_link(api, world, viewer, operator):
    """A live link is a credential: whoever has it may connect their Dropbox account to the
    instance. The dashboard shows and copies it only to users who may change instances
    (links/_consent_link.html, links.views.copy: can_change); the API must not hand it to a
    view-only user either (a 403, or the link without its `url`)."""
    secret = world.link.token
    assert secret and ok(api(bearer(operator, "read")).get(f"/consent-links/{world.link.pk}"))

    response = api(bearer(viewer, "read")).get(f"/consent-links/{world.link.pk}")

    assert response.status_code in (200, 403), response.text
    assert secret not in response.text


@live
def test_a_user_who_may_change_but_not_add_cannot_make_a_new_instance(api, world):
    editor = User.objects.create_user("edith", "edith@example.com", PASSWORD, is_staff=True)
    editor.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_elementinstance", "change_elementinstance"])
    )
    client = api(bearer(editor))
    new = {"name": "Not added", "oauth_api_key": "k", "oauth_api_secret": "s"}

    body = refused(client.post("/consent-links", json={"new_instance": new}), 403)

    assert body["detail"] == NOT_ALLOWED
    assert not ElementInstance.objects.filter(name="Not added").exists()
    # A link for an instance that exists is a change, which the user may make.
    assert ok(client.post("/consent-links", json={"instance": str(world.active.uuid)}), 201)
    # And a job they did not start is theirs to read (they may change instances).
    assert ok(client.get(f"/jobs/{world.job.pk}"))["id"] == world.job.pk


@live
def test_a_staff_user_without_permissions_reads_nothing(api, world):
    bare = User.objects.create_user("bart", "bart@example.com", PASSWORD, is_staff=True)
    client = api(bearer(bare))
    for method, path, body in world.reads():
        assert refused(call(client, method, path, body), 403)["detail"] == NOT_ALLOWED, path


def revoked(token: ApiToken, user: User) -> None:
    tokens.revoke(token=token)


def expired(token: ApiToken, user: User) -> None:
    ApiToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() - timedelta(seconds=1))


def deactivated(token: ApiToken, user: User) -> None:
    User.objects.filter(pk=user.pk).update(is_active=False)


def no_longer_staff(token: ApiToken, user: User) -> None:
    User.objects.filter(pk=user.pk).update(is_staff=False)


@live
@pytest.mark.parametrize("end", [revoked, expired, deactivated, no_longer_staff])
def test_a_token_that_ended_is_refused_everywhere(api, world, operator, end):
    secret = bearer(operator, expires_at=timezone.now() + timedelta(days=30))
    client = api(secret)
    ok(client.get("/instances"))
    end(ApiToken.objects.get(), operator)
    before = world.snapshot()

    for method, path, body in [*world.reads(), *world.writes()]:
        response = call(client, method, path, body)
        assert refused(response, 401)["detail"].startswith("A valid API token is needed"), path

    assert world.snapshot() == before
