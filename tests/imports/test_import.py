"""Import from Cloud Elements: every instance of the account becomes a local row, once.

Against the sandbox over real HTTP: instances seeded as a real account holds them (and one made
through the API with events to the team's own app) are imported with their names, tags, state,
event settings and token; secrets Cloud Elements masks stay unknown; a second import adds nothing.
"""

from __future__ import annotations

from django.core.management import call_command

from instances.cloud_elements import client as ce
from instances.jobs import engine
from instances.jobs.models import Job
from instances.models import AuditEntry, ElementInstance
from instances.sandbox.models import SandboxInstance
from instances.sandbox.seed import seed
from tests.instances.lifecycle_helpers import live
from tests.sandbox_helpers import create_remote


@live
def test_import_creates_a_row_for_every_instance_of_the_account(sandbox_site, settings, operator):
    settings.IMPORT_PAGE_SIZE = 4
    seed(instances=9)
    made_elsewhere = create_remote(sandbox_site.url, "Scripted <b>Dropbox</b>", tags=["script"])
    remote = {row.id: row for row in SandboxInstance.objects.all()}
    assert len(remote) == 10

    job = Job.objects.create(kind=Job.Kind.IMPORT, created_by=operator)
    assert engine.run_job(job.pk) == "done"

    job.refresh_from_db()
    assert (job.status, job.total, job.skipped) == ("done", 10, 0)
    assert job.summary["imported"] == 10 and job.summary["pages"] == 3
    imported = {row.remote_id: row for row in ElementInstance.objects.all()}
    assert set(imported) == set(remote)
    for remote_id, row in imported.items():
        there = remote[remote_id]
        assert row.origin == "imported" and row.status == "active"
        assert row.account == ce.account() == "sandbox"
        assert row.name == there.name
        assert sorted(row.tag_names()) == sorted(there.tags)
        assert (row.remote_valid, row.remote_disabled) == (there.valid, there.disabled)
        assert row.remote_token == there.token  # kept, encrypted at rest
        assert row.created_by == operator
        # Cloud Elements masks the OAuth app and the signature key: unknown here, not invented.
        assert (row.oauth_api_key, row.oauth_api_secret, row.webhook.signature_key) == ("", "", "")
        assert row.webhook.enabled == there.events_enabled
        has_key = "event.notification.signature.key" in there.full_configuration()
        assert row.webhook.signature_key_unknown is has_key
        assert row.unknown_secrets == ["OAuth client id", "OAuth client secret"] + (
            ["signature key"] if has_key else []
        )
        assert row.remote_created_at.date() == there.created_date.date()
        assert not row.drifted
        assert row.audit_entries.filter(action=AuditEntry.Action.IMPORTED).count() == 1
    assert imported[made_elsewhere.id].webhook.callback_url == f"{sandbox_site.url}/webhooks/x/"


@live
def test_a_second_import_creates_nothing_twice(sandbox_site, settings, operator):
    seed(instances=6)
    first = Job.objects.create(kind=Job.Kind.IMPORT)
    engine.run_job(first.pk)
    call_command("import_instances", stdout=(out := __import__("io").StringIO()))
    assert ElementInstance.objects.count() == 6
    second = Job.objects.exclude(pk=first.pk).get()
    assert (second.summary["imported"], second.summary["known"]) == (0, 6)
    assert "6 at Cloud Elements, 0 imported, 6 already here, 0 skipped." in out.getvalue()
