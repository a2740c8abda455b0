"""The addresses shown after *Copy link again* (`…/consent-link/copy/`) and after *Reveal*
(`…/signature-key/`) answer a GET usefully, reopened from the address bar or history: back to
the instance page with a message saying which button shows it again, never a blank 405; and
neither shows the link or the key on a GET. Issue 26, item 10."""

from __future__ import annotations

import pytest
from django.urls import reverse

from instances.links import services as links

pytestmark = pytest.mark.django_db


def _messages(response) -> list[str]:
    return [m.message for m in response.context["messages"]]


def test_reopening_the_copy_address_leads_back_to_the_instance(client, operator, make_instance):
    instance = make_instance()
    link = links.make_link(instance=instance, actor=operator)
    client.force_login(operator)

    response = client.get(reverse("links:copy", args=[instance.uuid]), follow=True)

    assert response.redirect_chain == [(instance.get_absolute_url(), 302)]
    assert any("Copy link again" in m for m in _messages(response))
    assert link.token not in response.content.decode()


def test_reopening_the_reveal_address_leads_back_to_the_instance(client, operator, make_instance):
    instance = make_instance(status="active", remote_id=4711)
    instance.webhook.signature_key = "a-signature-key-never-shown-on-get"
    instance.webhook.save()
    client.force_login(operator)

    response = client.get(reverse("accounts:reveal_key", args=[instance.uuid]), follow=True)

    assert response.redirect_chain == [(instance.get_absolute_url(), 302)]
    assert any("Reveal" in m for m in _messages(response))
    assert "a-signature-key-never-shown-on-get" not in response.content.decode()


@pytest.mark.parametrize("name", ["links:copy", "accounts:reveal_key"])
def test_other_methods_are_still_refused(client, operator, make_instance, name):
    instance = make_instance()
    client.force_login(operator)

    assert client.put(reverse(name, args=[instance.uuid])).status_code == 405
