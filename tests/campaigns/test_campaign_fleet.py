"""A campaign over 200 instances and 150 owners, against the sandbox, with a real SMTP server:
the e-mails, links and counts; owners opening, refusing and completing; a reminder only to
those who have not completed; stop revokes; and what each e-mail says (and does not)."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from django.test import Client
from django.utils import timezone

from instances.campaigns import services as campaigns
from instances.campaigns.models import Campaign, Mailing, Recipient
from instances.links.models import ConsentLink
from instances.models import AuditEntry, ElementInstance
from tests.campaigns.campaign_helpers import complete, links_in, parts, start
from tests.job_helpers import sandboxed
from tests.sandbox_helpers import APP_KEY, APP_SECRET

pytestmark = pytest.mark.django_db(transaction=True)
State = Recipient.State
SECRETS = ("app-secret-very-long-4567", "sandbox-app-secret-0001")


def owner_of(n: int) -> tuple[str, str] | None:
    """Instances 0-19 have no owner address; 20-79 are two each of owners 0-29; 80-199 one each
    of owners 30-149: 150 owners, 30 of them with two instances."""
    if n < 20:
        return None
    k = (n - 20) // 2 if n < 80 else n - 50
    return f"Owner {k}", f"Owner{k}@Customer{k % 7}.example"


@pytest.fixture
def fleet(make_instance, sandbox_site, settings):
    settings.CONSENT_ORGANIZATION_NAME = "Acme Integrations"
    instances = sandboxed(make_instance, sandbox_site.url, 200, prefix="Fleet")
    for n, instance in enumerate(instances):
        # The sandbox's app, as the sandbox instances were made with it.
        instance.oauth_api_key, instance.oauth_api_secret = APP_KEY, APP_SECRET
        instance.oauth_callback_url = f"{sandbox_site.url}/instances/oauth/callback/"
        owner = owner_of(n)
        if owner:
            instance.owner_name, instance.owner_email = owner[0], owner[1].lower()
        instance.save()
    drafts = [make_instance(f"Draft {n}", owner_email="d@customer.example") for n in range(3)]
    return instances, drafts


def by_owner(smtp) -> dict[str, list[dict]]:
    found = defaultdict(list)
    for mail in smtp:
        [address] = mail["to"]
        found[address].append(mail)
    return found


def test_a_campaign_over_200_instances_mails_each_owner_once_with_their_links(
    fleet, smtp, operator, settings
):
    instances, drafts = fleet
    campaign = start([*instances, *drafts], operator)

    # Links for the 180 with an owner address; the 20 without are "not sent", with the reason;
    # drafts do not fit a re-authorization and are skipped.
    assert campaign.status == Campaign.Status.RUNNING
    assert (campaign.selected, campaign.links_made, campaign.not_sent, campaign.skipped) == (
        203,
        180,
        20,
        3,
    )
    assert campaign.emails_sent == 150 and campaign.emails_failed == 0
    assert ConsentLink.objects.live().count() == 180
    not_sent = campaign.recipients.filter(state=State.NOT_SENT)
    assert set(not_sent.values_list("instance_id", flat=True)) == {i.pk for i in instances[:20]}
    assert set(not_sent.values_list("reason", flat=True)) == {
        "No owner e-mail address; no link made."
    }
    assert "re-authorization is for active" in campaign.recipients.get(instance=drafts[0]).reason
    assert campaign.recipients.filter(state=State.SENT).count() == 180

    # One e-mail per owner, listing exactly that owner's instances, each with its own link.
    mails = by_owner(smtp)
    assert len(smtp) == 150 and len(mails) == 150
    for n in range(20, 200):
        [mail] = mails[owner_of(n)[1].lower()]
        links = links_in(mail)
        mine = {link.instance_id for link in links}
        expected = {
            i.pk for m, i in enumerate(instances[20:], start=20) if owner_of(m) == owner_of(n)
        }
        assert mine == expected
        assert all(link.is_live and link.purpose == "reauthorize" for link in links)
    assert Counter(len(links_in(m)) for m in smtp) == {1: 120, 2: 30}
    assert (
        ElementInstance.objects.get(pk=instances[25].pk)
        .audit_entries.filter(
            action=AuditEntry.Action.LINK_MADE, detail__contains="Dropbox app secret rotated"
        )
        .exists()
    )

    # What an e-mail says: who asks, which instances, until when, the links; nothing secret.
    [mail] = mails[owner_of(20)[1].lower()]
    text, html = parts(mail)
    assert mail["message"]["Subject"] == (
        "Acme Integrations: please reconnect your 2 Dropbox accounts"
    )
    for body in (text, html):
        assert "Acme Integrations" in body
        assert "We rotated our Dropbox app&#x27;s secret." in body or "rotated our" in body
        assert instances[20].name in body and instances[21].name in body
        assert f"{campaign.expires_at:%Y}" in body
        for secret in SECRETS:
            assert secret not in body
        assert instances[20].remote_token not in body
    assert len(links_in(mail)) == 2

    # Owners act: owner 0 completes one of two, owner 1 both, owner 2 only opens, owner 3
    # refuses. The funnel moves as they do.
    owner0, owner1, owner2, owner3 = (
        links_in(mails[owner_of(n)[1].lower()][0]) for n in (20, 22, 24, 26)
    )
    complete(owner0[0])
    for link in owner1:
        complete(link)
    assert Client().get(urlsplit(owner2[0].get_absolute_url()).path).status_code == 200
    complete(owner3[0], decision="deny")
    campaign.refresh_from_db()
    assert (campaign.opened, campaign.consent_given, campaign.completed, campaign.refused) == (
        5,
        3,
        3,
        1,
    )
    completed = campaign.recipients.filter(state=State.COMPLETED)
    assert set(completed.values_list("link_id", flat=True)) == {
        owner0[0].pk,
        *(link.pk for link in owner1),
    }
    assert campaign.recipients.get(link=owner2[0]).state == State.OPENED
    assert campaign.recipients.get(link=owner3[0]).state == State.REFUSED
    # Opening again counts nothing more.
    Client().get(urlsplit(owner2[0].get_absolute_url()).path)
    campaign.refresh_from_db()
    assert campaign.opened == 5

    # The reminder, when due: to every owner with an instance not completed, listing only those.
    smtp.clear()
    Campaign.objects.filter(pk=campaign.pk).update(next_reminder_at=timezone.now())
    done = campaigns.tick()
    assert done["reminded"] == 149 and done["sent"] == 149
    reminded = by_owner(smtp)
    assert len(reminded) == 149
    assert owner_of(22)[1].lower() not in reminded  # owner 1 completed both
    [reminder] = reminded[owner_of(20)[1].lower()]
    assert reminder["message"]["Subject"].startswith("Reminder: ")
    assert [link.pk for link in links_in(reminder)] == [owner0[1].pk]
    campaign.refresh_from_db()
    assert (campaign.reminders_done, campaign.reminders_sent) == (1, 149)
    assert campaign.next_reminder_at > timezone.now() + timedelta(days=2)
    # A second tick sends nothing more until the next reminder is due.
    smtp.clear()
    assert campaigns.tick()["sent"] == 0 and not smtp

    # Stop: every open link is revoked (the owner is told it was withdrawn); nothing more goes.
    revoked = campaigns.stop(campaign=campaign, actor=operator)
    assert revoked == 177
    assert not ConsentLink.objects.live().filter(campaign_recipient__campaign=campaign).exists()
    answer = Client().get(urlsplit(owner2[0].get_absolute_url()).path)
    assert answer.status_code == 410 and b"withdrawn" in answer.content
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.STOPPED and campaign.revoked == 177
    Campaign.objects.filter(pk=campaign.pk).update(next_reminder_at=timezone.now())
    assert campaigns.tick() == {"expired": 0, "reminded": 0, "sent": 0} and not smtp
    assert not Mailing.objects.filter(campaign=campaign, status=Mailing.Status.DUE).exists()
