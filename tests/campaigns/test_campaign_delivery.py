"""How a campaign's e-mails go (and fail), the CSV export, expiry, and a job that resumes."""

from __future__ import annotations

import csv
import io
import time
from datetime import timedelta

import pytest
from django.db import DatabaseError
from django.urls import reverse
from django.utils import timezone

from instances.campaigns import mail, run
from instances.campaigns import services as campaigns
from instances.campaigns.models import Campaign, Mailing, Recipient
from instances.jobs import engine
from instances.jobs.models import Job
from instances.links import services as links
from instances.links.models import ConsentLink
from instances.models import ElementInstance
from tests.campaigns.campaign_helpers import LINK, links_in, parts, queue, start

pytestmark = pytest.mark.django_db
State = Recipient.State
ACTIVE = ElementInstance.Status.ACTIVE


@pytest.fixture
def owned(make_instance):
    def make(count: int, **fields):
        return [
            make_instance(
                f"Customer {n:03d}",
                status=ACTIVE,
                remote_id=1000 + n,
                owner_name=f"Owner {n}",
                owner_email=f"owner{n}@example.com",
                **fields,
            )
            for n in range(count)
        ]

    return make


def test_the_export_lists_each_link_with_its_instance_owner_and_expiry(
    client, operator, owned, smtp
):
    instances = owned(5)
    campaign = start(instances, operator, delivery=Campaign.Delivery.EXPORT, reminder_days=[])
    assert not smtp  # an export campaign e-mails nobody
    assert (campaign.links_made, campaign.emails_sent, campaign.status) == (5, 0, "running")

    client.force_login(operator)
    response = client.get(reverse("campaigns:export", args=[campaign.pk]))
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    assert response["Content-Disposition"] == (
        f'attachment; filename="campaign-{campaign.pk}-links.csv"'
    )
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0][:5] == [
        "instance",
        "cloud elements id",
        "owner name",
        "owner e-mail",
        "consent link",
    ]
    by_name = {row[0]: row for row in rows[1:]}
    assert len(by_name) == 5
    for instance in instances:
        name, remote_id, owner, address, url, expires, state = by_name[instance.name]
        [link] = ConsentLink.objects.live().filter(instance=instance)
        assert url == link.get_absolute_url() and LINK.fullmatch(url)
        assert (remote_id, owner, address) == (
            str(instance.remote_id),
            instance.owner_name,
            instance.owner_email,
        )
        assert expires == f"{link.expires_at:%Y-%m-%d %H:%M}" and state == "Link made"


def test_a_viewer_may_follow_a_campaign_but_not_export_stop_or_start_one(
    client, viewer, operator, owned
):
    campaign = start(owned(1), operator)
    client.force_login(viewer)
    assert client.get(campaign.get_absolute_url()).status_code == 200
    assert client.get(reverse("campaigns:export", args=[campaign.pk])).status_code == 403
    assert client.post(reverse("campaigns:stop", args=[campaign.pk])).status_code == 403
    assert client.get(reverse("campaigns:new") + "?scope=filter&query=").status_code == 403


def test_a_refused_email_is_tried_again_later_then_counts_as_sent(operator, owned, smtp):
    smtp.refuse = 1  # "451 try again later", once
    campaign = start(owned(2), operator)
    assert (campaign.emails_sent, campaign.emails_failed) == (1, 0)
    retrying = Mailing.objects.get(campaign=campaign, status=Mailing.Status.RETRYING)
    assert retrying.attempts == 1 and retrying.last_error == "SMTPDataError 451; trying again"
    assert retrying.next_try_at > timezone.now() + timedelta(seconds=50)
    assert campaigns.tick()["sent"] == 0  # not due yet

    Mailing.objects.filter(pk=retrying.pk).update(next_try_at=timezone.now())
    assert campaigns.tick()["sent"] == 1
    campaign.refresh_from_db()
    assert (campaign.emails_sent, campaign.emails_failed) == (2, 0)
    assert len(smtp) == 2
    assert not campaign.recipients.exclude(state=State.SENT).exists()


def test_an_email_that_keeps_failing_gives_up_after_five_attempts(operator, owned, smtp):
    smtp.refuse = 10
    campaign = start(owned(1), operator)
    mailing = Mailing.objects.get(campaign=campaign)
    for _ in range(4):
        Mailing.objects.filter(pk=mailing.pk).update(next_try_at=timezone.now())
        campaigns.tick()
    mailing.refresh_from_db()
    campaign.refresh_from_db()
    assert mailing.status == Mailing.Status.FAILED and mailing.attempts == mail.MAX_ATTEMPTS
    assert mailing.last_error == "SMTPDataError 451; gave up after 5 attempts"
    assert (campaign.emails_sent, campaign.emails_failed) == (0, 1)
    row = campaign.recipients.get()
    assert row.state == State.FAILED and "could not be sent" in row.reason


def test_an_smtp_server_that_cannot_be_reached_counts_a_failed_attempt(
    operator, owned, settings, smtp
):
    settings.EMAIL_PORT = 1  # nothing listens there
    campaign = start(owned(2), operator)
    assert campaign.status == Campaign.Status.RUNNING
    assert Job.objects.get(pk=campaign.job_id).status == Job.Status.DONE
    for mailing in Mailing.objects.filter(campaign=campaign):
        assert mailing.status == Mailing.Status.RETRYING and mailing.attempts == 1
        assert mailing.last_error.startswith("ConnectionRefusedError")


def test_emails_are_paced_to_the_configured_rate(operator, owned, smtp, settings):
    settings.CAMPAIGN_EMAILS_PER_MINUTE = 600  # one every 0.1 s
    began = time.monotonic()
    start(owned(6), operator)
    assert len(smtp) == 6
    assert time.monotonic() - began >= 0.5


def test_a_first_consent_campaign_for_drafts_says_connect_and_escapes_the_message(
    operator, make_instance, smtp
):
    draft = make_instance("New customer", owner_email="new@example.com")
    active = make_instance("Old", status=ACTIVE, remote_id=5, owner_email="new@example.com")
    campaign = start(
        [draft, active],
        operator,
        purpose=Campaign.Purpose.CREATE,
        message="Hello <script>alert(1)</script>",
    )
    assert (campaign.links_made, campaign.skipped) == (1, 1)
    assert "a first consent is for drafts" in campaign.recipients.get(instance=active).reason
    [mail_] = smtp
    text, html = parts(mail_)
    assert mail_["message"]["Subject"].endswith("please connect your Dropbox account")
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "Hello <script>alert(1)</script>" in text  # plain text is plain
    [link] = links_in(mail_)
    assert link.instance == draft and link.purpose == "create"


def test_links_expire_with_the_campaign_which_then_ends(operator, owned, smtp):
    campaign = start(owned(3), operator)
    Campaign.objects.filter(pk=campaign.pk).update(expires_at=timezone.now())
    assert campaigns.tick()["expired"] == 3
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.FINISHED and campaign.expired == 3
    assert campaign.next_reminder_at is None
    assert set(campaign.recipients.values_list("state", flat=True)) == {State.EXPIRED}


def test_a_newer_link_for_the_same_instance_revokes_the_campaigns_one(operator, owned, smtp):
    [instance] = owned(1)
    campaign = start([instance], operator)
    links.make_link(instance=instance, actor=operator)  # the operator sends one by hand
    campaign.refresh_from_db()
    assert campaign.revoked == 1
    assert campaign.recipients.get().state == State.REVOKED


def test_a_job_whose_worker_died_resumes_after_the_last_batch_without_duplicates(
    operator, owned, smtp, monkeypatch
):
    instances = owned(25)
    monkeypatch.setattr(run, "BATCH", 10)
    real = links.make_links
    calls = []

    def flaky(**kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise DatabaseError("the database went away")
        return real(**kwargs)

    monkeypatch.setattr(links, "make_links", flaky)
    campaign = queue(instances, operator, reminder_days=[])
    with pytest.raises(DatabaseError):
        engine.run_job(campaign.job_id)
    assert Recipient.objects.filter(campaign=campaign).count() == 10  # the first batch only
    # The lease runs out; the job is taken up again.
    Job.objects.filter(pk=campaign.job_id).update(lease_expires_at=timezone.now())
    assert engine.run_job(campaign.job_id) == "done"
    campaign.refresh_from_db()
    assert (campaign.selected, campaign.links_made, campaign.emails_sent) == (25, 25, 25)
    assert Recipient.objects.filter(campaign=campaign).count() == 25
    assert ConsentLink.objects.live().count() == 25 and len(smtp) == 25


def test_a_campaign_stopped_before_its_job_ran_makes_nothing(operator, owned, smtp):
    campaign = queue(owned(3), operator, reminder_days=[])
    campaigns.stop(campaign=campaign, actor=operator)
    assert engine.run_job(campaign.job_id) == "not claimed"  # cancelled with the campaign
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.STOPPED and campaign.links_made == 0
    assert not ConsentLink.objects.exists() and not smtp


def test_a_campaigns_job_is_cancelled_only_by_stopping_the_campaign(operator, owned):
    from instances.jobs import services as jobs

    campaign = queue(owned(1), operator, reminder_days=[])
    with pytest.raises(jobs.JobError, match="stop the campaign on its page"):
        jobs.cancel_job(job=campaign.job, actor=operator)
    assert Job.objects.get(pk=campaign.job_id).status == Job.Status.QUEUED


def test_an_email_the_backend_cannot_encode_is_one_failure_not_a_lost_batch(
    operator, owned, smtp, monkeypatch
):
    from django.core.mail import EmailMultiAlternatives

    real = EmailMultiAlternatives.send

    def send(message, *args, **kwargs):
        if message.to == ["owner1@example.com"]:
            raise UnicodeError("cannot encode this address")
        return real(message, *args, **kwargs)

    monkeypatch.setattr(EmailMultiAlternatives, "send", send)
    campaign = start(owned(3), operator)
    assert (campaign.emails_sent, campaign.status) == (2, Campaign.Status.RUNNING)
    failed = Mailing.objects.get(campaign=campaign, email="owner1@example.com")
    assert failed.status == Mailing.Status.RETRYING and failed.last_error.startswith("UnicodeError")
    assert len(smtp) == 2


def test_the_export_keeps_a_formula_looking_owner_as_text(client, operator, owned):
    [instance] = owned(1)
    instance.owner_name = '=HYPERLINK("http://evil.example","x")'
    instance.save()
    campaign = start([instance], operator, delivery=Campaign.Delivery.EXPORT)
    client.force_login(operator)
    response = client.get(reverse("campaigns:export", args=[campaign.pk]))
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[1][2] == "'" + instance.owner_name
