"""`/api/v1/consent-links`: the team's app asks for a link (a new draft from the documented
parameters, or an existing draft or active instance), follows how far the account's owner got
(the owner is an anonymous browser: a `requests` session here) and revokes it."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import requests

from instances.links.models import ConsentLink
from instances.models import AuditEntry, ElementInstance
from tests.api.conftest import live, ok, refused
from tests.job_helpers import sandboxed

Status = ElementInstance.Status
Action = AuditEntry.Action
CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')

NEW = {
    "name": "Acme Dropbox",
    "oauth_api_key": "sandbox-app-key",
    "oauth_api_secret": "sandbox-app-secret-0001",
    "tags": ["acme", "onboarding"],
    "owner_name": "Ann Acme",
    "owner_email": "Ann@Acme.example",
}


def owner_allows(link_url: str) -> requests.Response:
    """The account's owner, in a browser of their own: open the link, continue to Dropbox,
    choose Allow; the last answer (after the dashboard's callback)."""
    with requests.Session() as browser:
        start = browser.get(link_url, timeout=10)
        assert start.status_code == 200, start.text[:500]
        to_dropbox = browser.post(
            link_url,
            data={"csrfmiddlewaretoken": CSRF.search(start.text).group(1)},
            headers={"Referer": link_url},
            allow_redirects=False,
            timeout=10,
        )
        assert to_dropbox.status_code == 302, to_dropbox.text[:500]
        consent_url = to_dropbox.headers["Location"]
        screen = browser.get(consent_url, timeout=10)
        fields = {k: v[0] for k, v in parse_qs(urlsplit(consent_url).query).items()}
        allowed = browser.post(
            consent_url.split("?")[0],
            data={
                **fields,
                "csrfmiddlewaretoken": CSRF.search(screen.text).group(1),
                "decision": "allow",
            },
            allow_redirects=False,
            timeout=10,
        )
        assert allowed.status_code == 302, allowed.text[:500]
        return browser.get(allowed.headers["Location"], timeout=30)


@live
def test_a_link_for_a_new_instance_from_the_documented_parameters(alice, sandbox_site, operator):
    body = ok(
        alice.post(
            "/consent-links",
            json={"new_instance": {**NEW, "events_enabled": True}, "note": "Ann at Acme"},
        ),
        201,
    )

    instance = ElementInstance.objects.select_related("webhook").get()
    assert (body["purpose"], body["state"]) == ("create", "waiting")
    assert body["url"].startswith(f"{sandbox_site.url}/connect/")
    assert body["instance"] == {
        "uuid": str(instance.uuid),
        "name": "Acme Dropbox",
        "status": "draft",
        "cloud_elements_id": None,
    }
    assert body["opened_at"] is body["used_at"] is body["revoked_at"] is None
    # The draft, from the parameters and the dashboard's defaults for what was left out.
    assert (instance.name, instance.element_key, instance.authentication_type) == (
        "Acme Dropbox",
        "dropbox",
        "oauth2",
    )
    assert (instance.oauth_api_key, instance.oauth_api_secret) == (
        "sandbox-app-key",
        "sandbox-app-secret-0001",
    )
    assert instance.oauth_callback_url == f"{sandbox_site.url}/instances/oauth/callback/"
    assert instance.webhook.enabled is True
    assert instance.webhook.callback_url == f"{sandbox_site.url}/webhooks/{instance.uuid}/"
    assert len(instance.webhook.signature_key) >= 32  # generated, as the form's button does
    assert sorted(instance.tag_names()) == ["acme", "onboarding"]
    assert (instance.owner_name, instance.owner_email) == ("Ann Acme", "ann@acme.example")
    assert instance.created_by == operator
    link = ConsentLink.objects.get()
    assert (link.instance_id, link.note, link.created_by) == (instance.pk, "Ann at Acme", operator)
    assert body["id"] == link.pk and body["url"] == link.get_absolute_url()
    assert {Action.DRAFTED, Action.LINK_MADE, Action.OWNER_CHANGED} <= set(
        instance.audit_entries.values_list("action", flat=True)
    )


@live
def test_the_owner_opens_then_completes_the_link(alice, sandbox_site):
    link = ok(alice.post("/consent-links", json={"new_instance": NEW}), 201)
    assert ok(alice.get(f"/consent-links/{link['id']}"))["state"] == "waiting"

    # Opening the link (an anonymous browser) is noted.
    with requests.Session() as browser:
        assert browser.get(link["url"], timeout=10).status_code == 200
    opened = ok(alice.get(f"/consent-links/{link['id']}"))
    assert opened["state"] == "opened" and opened["opened_at"] is not None
    assert opened["url"] == link["url"]

    finished = owner_allows(link["url"])
    assert finished.status_code == 200, finished.text[:500]

    done = ok(alice.get(f"/consent-links/{link['id']}"))
    assert done["state"] == "completed" and done["used_at"] is not None
    assert done["url"] is None  # spent: nothing to send any more
    assert done["instance"]["status"] == "active"
    assert isinstance(done["instance"]["cloud_elements_id"], int)
    instance = ok(alice.get(f"/instances/{done['instance']['uuid']}"))
    assert instance["cloud_elements_id"] == done["instance"]["cloud_elements_id"]


@live
def test_a_link_for_an_existing_draft_or_active_instance(alice, make_instance, sandbox_site):
    draft = make_instance("Waiting draft")
    [active] = sandboxed(make_instance, sandbox_site.url, 1, prefix="Needs consent again")

    for_draft = ok(alice.post("/consent-links", json={"instance": str(draft.uuid)}), 201)
    assert (for_draft["purpose"], for_draft["state"]) == ("create", "waiting")

    renewal = ok(
        alice.post(
            "/consent-links",
            json={"instance": str(active.uuid), "success_url": "https://app.example.com/done"},
        ),
        201,
    )
    assert (renewal["purpose"], renewal["state"]) == ("reauthorize", "waiting")
    assert renewal["instance"]["cloud_elements_id"] == active.remote_id
    assert ConsentLink.objects.get(pk=renewal["id"]).success_url == "https://app.example.com/done"

    # A new link for the same instance revokes the older one.
    again = ok(alice.post("/consent-links", json={"instance": str(active.uuid)}), 201)
    assert again["id"] != renewal["id"]
    older = ok(alice.get(f"/consent-links/{renewal['id']}"))
    assert older["state"] == "revoked" and older["url"] is None


@live
def test_revoke_a_link(alice, make_instance):
    draft = make_instance("Revocable")
    link = ok(alice.post("/consent-links", json={"instance": str(draft.uuid)}), 201)

    revoked = ok(alice.delete(f"/consent-links/{link['id']}"))

    assert revoked["state"] == "revoked" and revoked["revoked_at"] is not None
    assert revoked["url"] is None
    assert ok(alice.get(f"/consent-links/{link['id']}"))["state"] == "revoked"
    # The owner's page says it cannot be used.
    with requests.Session() as browser:
        assert browser.get(link["url"], timeout=10).status_code == 410
    assert draft.audit_entries.filter(action=Action.LINK_REVOKED).count() == 1


@live
def test_new_instance_parameters_are_checked_as_the_dashboards_form_does(alice, make_instance):
    make_instance("Taken", status=Status.ACTIVE)
    cases = [
        ({**NEW, "name": "taken"}, "new_instance.name"),
        ({**NEW, "element_key": "Drop Box"}, "new_instance.element_key"),
        ({**NEW, "oauth_callback_url": "http://example.com/cb"}, "new_instance.oauth_callback_url"),
        (
            {**NEW, "events_enabled": True, "event_callback_url": "ftp://example.com/"},
            "new_instance.event_callback_url",
        ),
        ({**NEW, "owner_email": "not an address"}, "new_instance.owner_email"),
    ]
    for new, field in cases:
        body = refused(alice.post("/consent-links", json={"new_instance": new}), 400)
        assert field in body["errors"], (new, body)
    body = refused(
        alice.post("/consent-links", json={"new_instance": NEW, "success_url": "nope"}), 400
    )
    assert list(body["errors"]) == ["success_url"]
    assert ElementInstance.objects.count() == 1
    assert not ConsentLink.objects.exists()
