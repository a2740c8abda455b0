"""Starting a campaign from the list (checked rows or all matching a filter), the form's
refusals, and the campaign page's funnel, rows, state filter and paging."""

from __future__ import annotations

import pytest
from django.urls import reverse

from instances.campaigns import views
from instances.campaigns.models import Campaign, Recipient
from instances.jobs import engine
from instances.models import ElementInstance, Tag

pytestmark = pytest.mark.django_db
ACTIVE = ElementInstance.Status.ACTIVE
NEW = reverse("campaigns:new")
FORM = {
    "step": "start",
    "name": "Secret rotated",
    "purpose": "reauthorize",
    "message": "Please reconnect.",
    "expires_in_days": "7",
    "reminders": "3, 6",
    "delivery": "email",
}


@pytest.fixture
def signed_in(client, operator):
    client.force_login(operator)
    return client


@pytest.fixture
def fleet(make_instance):
    return [
        make_instance(
            f"Acme {n}",
            status=ACTIVE,
            remote_id=500 + n,
            owner_email=f"o{n}@acme.example",
            tags=["customer:acme"] if n % 2 else [],
        )
        for n in range(6)
    ]


def test_the_list_offers_a_campaign_for_the_checked_rows(signed_in, fleet):
    page = signed_in.get(reverse("instances:index")).text
    assert 'id="start-campaign"' in page and f'formaction="{NEW}"' in page

    checked = {"scope": "checked", "instance": [str(i.uuid) for i in fleet[:2]], "query": ""}
    form = signed_in.post(NEW, checked)
    assert form.status_code == 200
    assert "2 checked instances" in form.text
    assert form.text.count('name="instance"') == 2  # the selection rides along

    response = signed_in.post(NEW, {**checked, **FORM})
    campaign = Campaign.objects.get()
    assert response.status_code == 302 and response["Location"] == campaign.get_absolute_url()
    assert campaign.scope == {"ids": sorted(i.pk for i in fleet[:2])}
    assert (campaign.name, campaign.reminder_days, campaign.delivery) == (
        "Secret rotated",
        [3, 6],
        "email",
    )
    assert campaign.job.kind == "campaign" and campaign.job.total == 2


def test_all_matching_a_filter_is_the_filters_at_run_time(signed_in, fleet, make_instance, smtp):
    query = "tag=customer%3Aacme"
    form = signed_in.post(NEW, {"scope": "filter", "query": query})
    assert "3 instances matching Tag: customer:acme" in form.text
    signed_in.post(NEW, {"scope": "filter", "query": query, **FORM})
    campaign = Campaign.objects.get()
    assert campaign.scope == {"query": query, "words": ["Tag: customer:acme"]}
    # An instance tagged after the start is in: the worker reads the filter.
    late = make_instance("Late", status=ACTIVE, remote_id=999, owner_email="late@acme.example")
    late.tags.set(Tag.for_names(["customer:acme"]))
    engine.run_job(campaign.job_id)
    campaign.refresh_from_db()
    assert campaign.links_made == 4 and len(smtp) == 4


def test_the_attention_link_opens_the_form_for_instances_needing_reauthorization(
    signed_in, make_instance
):
    make_instance("Broken", status=ACTIVE, remote_id=1, remote_valid=False, owner_email="b@x.io")
    make_instance("Fine", status=ACTIVE, remote_id=2)
    page = signed_in.get(NEW, {"scope": "filter", "query": "attention=reauthorize"})
    assert page.status_code == 200
    assert "1 instance matching Attention: Needs re-authorization" in page.text


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"reminders": "3, 9"}, "Every reminder must come before the links expire (day 7)."),
        ({"reminders": "soon"}, "Write whole days separated by commas"),
        ({"expires_in_days": "0"}, "greater than or equal to 1"),
        ({"name": ""}, "This field is required."),
        ({"purpose": "delete"}, "Select a valid choice."),
    ],
)
def test_a_bad_form_is_refused_with_the_reason_and_keeps_what_was_typed(
    signed_in, fleet, changes, message
):
    selection = {"scope": "checked", "instance": [str(fleet[0].uuid)]}
    response = signed_in.post(NEW, {**selection, **FORM, **changes})
    assert response.status_code == 400
    assert message in response.text
    assert "Please reconnect." in response.text and str(fleet[0].uuid) in response.text
    assert not Campaign.objects.exists()


def test_nothing_selected_leads_back_to_the_list(signed_in):
    response = signed_in.post(NEW, {"scope": "checked"}, follow=True)
    assert response.redirect_chain[-1][0] == reverse("instances:index")
    assert "Select the instances to ask again" in response.text


def test_the_campaign_page_shows_the_funnel_and_pages_through_its_rows(
    signed_in, operator, fleet, make_instance, smtp, monkeypatch
):
    make_instance("No owner", status=ACTIVE, remote_id=77)
    signed_in.post(NEW, {"scope": "filter", "query": "", **FORM})
    campaign = Campaign.objects.get()
    engine.run_job(campaign.job_id)

    page = signed_in.get(campaign.get_absolute_url()).text
    assert 'data-step="links_made">6<' in page and 'data-step="emails_sent">6<' in page
    assert "1 not sent</a> (no owner address)" in page
    assert page.count('class="recipient-state"') == 7

    not_sent = signed_in.get(campaign.get_absolute_url(), {"state": "not_sent"}).text
    assert not_sent.count('class="recipient-state"') == 1 and "No owner" in not_sent

    monkeypatch.setattr(views, "ROWS_PER_PAGE", 4)
    first = signed_in.get(campaign.get_absolute_url()).text
    assert first.count('class="recipient-state"') == 4
    fourth = Recipient.objects.filter(campaign=campaign).order_by("pk")[3]
    assert f'href="?after={fourth.pk}" rel="next"' in first
    second = signed_in.get(campaign.get_absolute_url(), {"after": fourth.pk}).text
    assert second.count('class="recipient-state"') == 3 and 'rel="next"' not in second

    stopped = signed_in.post(reverse("campaigns:stop", args=[campaign.pk]), follow=True)
    assert "Campaign stopped: 6 open links revoked" in stopped.text
    again = signed_in.post(reverse("campaigns:stop", args=[campaign.pk]), follow=True)
    assert "This campaign is already over." in again.text
    assert "Campaigns" in signed_in.get(reverse("campaigns:index")).text
