"""An imported instance's page: where it came from, which secrets Cloud Elements masked (entered
later, kept here only), and where its events go (Receive events here, after a confirmation)."""

from __future__ import annotations

from django.urls import reverse

from instances.cloud_elements import client as ce
from instances.events.receiver import UNKNOWN_KEY
from instances.forms import webhook_url
from instances.models import AuditEntry
from instances.sandbox.models import SandboxInstance
from tests.events.receiver_helpers import deliver, message_body
from tests.imports.scan_helpers import local, run_scan
from tests.instances.lifecycle_helpers import live, shown_messages
from tests.sandbox_helpers import consent_code

THEIR_APP = "https://their-app.example/cloud-elements"
THEIR_KEY = "their-signing-key-7Qw2"


def _made_by_their_app(site_url: str) -> ce.Instance:
    """An instance a team's own code created, with events signed and sent to its own app."""
    return ce.create_instance(
        {
            "element": {"key": "dropbox"},
            "providerData": {"code": consent_code(site_url)},
            "configuration": {
                "oauth.api.key": "sandbox-app-key",
                "oauth.api.secret": "sandbox-app-secret-0001",
                "oauth.callback.url": f"{site_url}/instances/oauth/callback/",
                "event.notification.enabled": True,
                "event.notification.callback.url": THEIR_APP,
                "event.notification.signature.key": THEIR_KEY,
            },
            "tags": ["their-app"],
            "name": "Made by their app",
        }
    )


@live
def test_the_page_says_what_is_unknown_and_where_events_go(
    sandbox_site, settings, client, operator
):
    remote = _made_by_their_app(sandbox_site.url)
    run_scan(actor=operator)
    row = local(remote.id)
    client.force_login(operator)

    page = client.get(row.get_absolute_url()).text

    assert '<span class="origin">Imported</span> from Cloud Elements' in page
    assert 'id="unknown-secrets"' in page
    assert "OAuth client id, OAuth client secret, signature key" in page
    assert "cannot be verified, so they are refused" in page
    assert 'id="events-elsewhere"' in page and THEIR_APP in page
    assert THEIR_KEY not in page
    listed = client.get(reverse("instances:index"), {"origin": "imported"}).text
    assert "Made by their app" in listed and ">imported<" in listed


@live
def test_deliveries_are_refused_with_a_reason_until_the_key_is_entered(
    sandbox_site, settings, client, operator
):
    remote = _made_by_their_app(sandbox_site.url)
    run_scan()
    row = local(remote.id)
    body = message_body(instance_id=remote.id)

    refused = deliver(client, row, body, key=THEIR_KEY)

    assert refused.status_code == 401 and refused.json() == {"error": UNKNOWN_KEY}
    assert not row.events.exists()
    client.force_login(operator)
    form = client.get(reverse("imports:secrets", args=[row.uuid]))
    assert form.status_code == 200 and 'name="signature_key"' in form.text
    blank = client.post(reverse("imports:secrets", args=[row.uuid]), {})
    assert blank.status_code == 400 and "Enter at least one value" in blank.text

    response = client.post(
        reverse("imports:secrets", args=[row.uuid]),
        {
            "oauth_api_key": "sandbox-app-key",
            "oauth_api_secret": "sandbox-app-secret-0001",
            "signature_key": THEIR_KEY,
        },
        follow=True,
    )

    assert shown_messages(response) == [
        ("success", "Kept here: OAuth client id, OAuth client secret, signature key.")
    ]
    row = local(remote.id)
    assert row.unknown_secrets == []
    assert row.webhook.signature_key == THEIR_KEY and not row.webhook.signature_key_unknown
    assert THEIR_KEY not in response.text and "sandbox-app-secret-0001" not in response.text
    entered = row.audit_entries.get(action=AuditEntry.Action.SECRET_ENTERED)
    assert THEIR_KEY not in entered.detail
    client.logout()
    accepted = deliver(client, row, body, key=THEIR_KEY)
    assert accepted.status_code == 200 and row.events.count() == 1
    # Nothing was sent to Cloud Elements: its configuration is as the team's app left it.
    there = SandboxInstance.objects.get(pk=remote.id).full_configuration()
    assert there["event.notification.callback.url"] == THEIR_APP


@live
def test_receive_events_here_after_a_confirmation(sandbox_site, settings, client, operator):
    remote = _made_by_their_app(sandbox_site.url)
    run_scan()
    row = local(remote.id)
    client.force_login(operator)
    url = reverse("imports:receive_here", args=[row.uuid])

    confirm = client.get(url).text

    assert "That address stops receiving them" in confirm and THEIR_APP in confirm
    assert webhook_url(row.uuid) in confirm
    assert (
        SandboxInstance.objects.get(pk=remote.id).full_configuration()[
            "event.notification.callback.url"
        ]
        == THEIR_APP
    )  # the GET changed nothing
    response = client.post(url, follow=True)

    assert shown_messages(response) == [
        ("success", "Its events now come to this dashboard, signed with a new key.")
    ]
    there = SandboxInstance.objects.get(pk=remote.id).full_configuration()
    row = local(remote.id)
    assert there["event.notification.callback.url"] == webhook_url(row.uuid)
    assert there["event.notification.signature.key"] == row.webhook.signature_key != THEIR_KEY
    assert row.webhook.callback_url == webhook_url(row.uuid) and row.webhook.enabled
    assert not row.drifted and row.unknown_secrets == ["OAuth client id", "OAuth client secret"]
    assert 'id="events-elsewhere"' not in client.get(row.get_absolute_url()).text
    client.logout()
    body = message_body(instance_id=remote.id)
    assert deliver(client, row, body, key=row.webhook.signature_key).status_code == 200
