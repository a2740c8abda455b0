"""The operator's side of consent links: sending one, and seeing, copying or revoking it.

The new-instance form can send a consent link instead of going to Dropbox (oauth2 only), with
success and error URLs that must be https or loopback. The instance page offers to copy the link
again, revoke it or make a new one (a re-authorization link for an active instance), and the
list shows "Waiting for consent" without a query per row.
"""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from instances.links import services as links
from instances.links.forms import ConsentLinkForm
from instances.links.models import ConsentLink
from instances.models import ElementInstance
from tests.instances.consent_helpers import form_data
from tests.links.link_helpers import Action, Status, actions

pytestmark = pytest.mark.django_db


# --- The operator's side -------------------------------------------------------------------------


@pytest.fixture
def operator_client(client, operator) -> Client:
    client.force_login(operator)
    return client


def test_the_new_form_can_send_a_consent_link_instead(operator_client, remote):
    data = form_data(**{"send_link": "1", "link-note": "Bob at Customer"})
    response = operator_client.post("/instances/new/", data, follow=True)

    # Made by the POST, shown by the GET it redirects to (a reload shows it again).
    instance = ElementInstance.objects.get(uuid=data["instance_uuid"])
    assert response.redirect_chain == [(f"/instances/{instance.uuid}/consent-link/", 302)]
    assert response.status_code == 200
    link = ConsentLink.objects.get(instance=instance)
    body = response.content.decode()
    assert f"http://127.0.0.1:8000/connect/{link.token}/" in body or link.token in body
    assert "Bob at Customer" in body and "data-copy-target" in body
    assert response["Cache-Control"] == "no-store"
    assert instance.status == Status.DRAFT
    assert remote.oauth_calls == []
    assert actions(instance) == [Action.DRAFTED, Action.LINK_MADE]


def test_no_consent_link_for_an_api_key_instance(operator_client, remote):
    data = form_data(authentication_type="apiKey", api_key="k" * 24, send_link="1")
    response = operator_client.post("/instances/new/", data)
    assert response.status_code == 400
    assert "A consent link is for oauth2" in response.content.decode()
    assert not ElementInstance.objects.exists()


@pytest.mark.parametrize(
    ("url", "valid"),
    [
        ("https://customer.example/done", True),
        ("http://127.0.0.1:9000/done", True),
        ("http://customer.example/done", False),
        ("javascript:alert(1)", False),
        ("/relative", False),
    ],
)
def test_success_and_error_urls_are_https_or_loopback(url, valid):
    form = ConsentLinkForm({"link-success_url": url, "link-error_url": url}, prefix="link")
    assert form.is_valid() is valid


def test_the_instance_page_offers_copy_revoke_and_a_new_link(operator_client, link):
    page = operator_client.get(link.instance.get_absolute_url()).content.decode()
    assert "Waiting for consent" in page
    assert "Copy link again" in page and "Revoke" in page and "Make a new one" in page
    assert link.token not in page  # shown only on request

    again = operator_client.post(f"/instances/{link.instance.uuid}/consent-link/copy/")
    assert link.token in again.content.decode()

    operator_client.post(f"/instances/{link.instance.uuid}/consent-link/revoke/")
    assert ConsentLink.objects.get(pk=link.pk).revoked_at is not None
    page = operator_client.get(link.instance.get_absolute_url()).content.decode()
    assert "Waiting for consent" not in page and "Send a consent link" in page


def test_an_active_instance_offers_a_reauthorization_link(operator_client, make_instance):
    active = make_instance("Live", status=Status.ACTIVE, remote_id=77)
    page = operator_client.get(active.get_absolute_url()).content.decode()
    assert "Send a re-authorization link" in page
    url = f"/instances/{active.uuid}/consent-link/"
    response = operator_client.post(url, {"link-note": ""}, follow=True)
    assert response.redirect_chain == [(url, 302)] and response.status_code == 200
    assert ConsentLink.objects.get(instance=active).purpose == "reauthorize"


def test_the_list_shows_waiting_for_consent_without_a_query_per_row(
    operator_client, make_instance, operator
):
    def list_queries() -> int:
        with CaptureQueriesContext(connection) as queries:
            response = operator_client.get("/instances/")
        assert response.status_code == 200
        return len(queries)

    links.make_link(instance=make_instance("One"), actor=operator)
    few = list_queries()
    for number in range(4):
        links.make_link(instance=make_instance(f"More {number}"), actor=operator)
    make_instance("No link")
    assert list_queries() == few
    page = operator_client.get("/instances/").content.decode()
    assert page.count("Waiting for consent") == 5
