"""What the API changes is in each instance's history as the dashboard's changes are, with
`via` naming the token (“API token “<name>” (ced_…)”) and its user as the actor; a job started
through the API carries the token on the job, and its worker's entries name it too."""

from __future__ import annotations

from instances.jobs import engine
from instances.jobs import services as jobs
from instances.jobs.models import Job
from instances.lib import audit_context
from instances.models import AuditEntry, ElementInstance
from tests.api.conftest import bearer, live, ok, refused
from tests.job_helpers import sandboxed
from tests.sandbox_helpers import make_active

Action = AuditEntry.Action


def label(name: str, secret: str) -> str:
    return f"API token “{name}” ({secret[:12]}…)"


@live
def test_each_write_names_the_token_that_made_it(api, make_instance, sandbox_site, operator):
    renamer = bearer(operator, name="renamer")
    switcher = bearer(operator, name="events switcher")
    instance = make_active(make_instance, sandbox_site.url, "Historic")
    before = set(instance.audit_entries.values_list("pk", flat=True))

    ok(api(renamer).patch(f"/instances/{instance.uuid}", json={"name": "Historic 2"}))
    ok(api(renamer).patch(f"/instances/{instance.uuid}", json={"owner_email": "owner@example.com"}))
    ok(api(switcher).put(f"/instances/{instance.uuid}/events-enabled", json={"enabled": True}))
    # Reading writes nothing.
    ok(api(switcher).get(f"/instances/{instance.uuid}"))

    written = instance.audit_entries.exclude(pk__in=before).order_by("pk")
    assert [(e.action, e.via, e.actor_id) for e in written] == [
        (Action.UPDATED, label("renamer", renamer), operator.pk),
        (Action.OWNER_CHANGED, label("renamer", renamer), operator.pk),
        (Action.EVENTS_ENABLED, label("events switcher", switcher), operator.pk),
    ]
    assert renamer not in written[0].via  # its prefix, never the token


@live
def test_a_failed_change_and_a_consent_link_name_the_token(api, make_instance, operator):
    secret = bearer(operator, name="onboarding service")
    client = api(secret)
    vanished = make_instance("Vanished", status=ElementInstance.Status.ACTIVE, remote_id=987654)

    refused(client.post(f"/instances/{vanished.uuid}/disable"), 502)
    link = ok(
        client.post(
            "/consent-links",
            json={
                "new_instance": {
                    "name": "Via API",
                    "oauth_api_key": "k",
                    "oauth_api_secret": "s",
                }
            },
        ),
        201,
    )

    failure = vanished.audit_entries.get(action=Action.REMOTE_ERROR)
    assert (failure.via, failure.actor_id) == (label("onboarding service", secret), operator.pk)
    drafted = ElementInstance.objects.get(uuid=link["instance"]["uuid"])
    entries = drafted.audit_entries.order_by("pk")
    assert [(e.action, e.via, e.actor_id) for e in entries] == [
        (Action.DRAFTED, label("onboarding service", secret), operator.pk),
        (Action.LINK_MADE, label("onboarding service", secret), operator.pk),
    ]


@live
def test_a_job_and_its_workers_entries_name_the_token(api, make_instance, sandbox_site, operator):
    secret = bearer(operator, name="fleet script")
    fleet = sandboxed(make_instance, sandbox_site.url, 2, prefix="Named")

    job = ok(
        api(secret).post(
            "/jobs", json={"kind": "disable", "instances": [str(i.uuid) for i in fleet]}
        ),
        201,
    )

    row = Job.objects.get(pk=job["id"])
    assert (row.via, row.created_by) == (label("fleet script", secret), operator)
    assert engine.run_job(row.pk) == "done"
    entries = AuditEntry.objects.filter(instance__in=fleet, action=Action.DISABLED)
    assert entries.count() == 2
    assert {(e.via, e.actor_id) for e in entries} == {(label("fleet script", secret), operator.pk)}
    # The worker's context ends with the job: what it runs next names nothing.
    assert audit_context.current() == ""
    # A job started on the dashboard (no token) names nothing either.
    other = jobs.start_job(kind="sync", instances=[fleet[0].pk], actor=operator)
    assert other.via == ""
