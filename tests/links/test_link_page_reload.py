"""The page of a link just made can be reloaded: the POST that makes it redirects to its own
address, which shows it again to the browser that made it (for ten minutes) and to no one else;
and a form sent twice says so instead of a hidden error. Issue 26, item 9."""

from __future__ import annotations

import pytest
from django.test import Client

from instances.links.models import ConsentLink
from instances.models import ElementInstance
from tests.instances.consent_helpers import form_data

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator_client(client, operator) -> Client:
    client.force_login(operator)
    return client


def _messages(response) -> list[str]:
    return [m.message for m in response.context["messages"]]


def test_a_reload_shows_the_same_link_again(operator_client, remote):
    data = form_data(**{"send_link": "1", "link-note": "Bob at Customer"})
    made = operator_client.post("/instances/new/", data)
    instance = ElementInstance.objects.get(uuid=data["instance_uuid"])
    link = ConsentLink.objects.get(instance=instance)

    pages = [operator_client.get(made["Location"]) for _ in range(2)]

    assert [p.status_code for p in pages] == [200, 200]
    assert all(link.token in p.content.decode() for p in pages)
    assert ConsentLink.objects.filter(instance=instance).count() == 1, "no new link on reload"


def test_another_browser_at_that_address_is_sent_to_the_instance(operator_client, operator, remote):
    data = form_data(**{"send_link": "1"})
    address = operator_client.post("/instances/new/", data)["Location"]
    token = ConsentLink.objects.get().token
    elsewhere = Client()
    elsewhere.force_login(operator)

    response = elsewhere.get(address, follow=True)

    assert token not in response.content.decode()
    assert any("Copy link again" in m for m in _messages(response))


def test_the_same_form_sent_twice_says_so(operator_client, remote):
    data = form_data(**{"send_link": "1"})
    operator_client.post("/instances/new/", data)

    again = operator_client.post("/instances/new/", data)

    assert again.status_code == 400
    assert "This form was already submitted; start a new one." in again.content.decode()
