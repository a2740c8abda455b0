"""Pages say what is true of the instance in front of them. Issue 26, item 12."""

from __future__ import annotations

import pytest
from django.urls import reverse

from instances.links import services as links
from instances.models import ElementInstance

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "status, said",
    [("failed", "Creating this instance at Cloud Elements failed"), ("draft", "a draft")],
)
def test_the_edit_page_names_the_instances_state_in_words(
    client, operator, make_instance, status, said
):
    instance = make_instance(status=status)
    client.force_login(operator)

    page = client.get(reverse("instances:edit", args=[instance.uuid])).content.decode()

    assert said in page and "This instance is failed" not in page


def test_a_re_authorization_link_does_not_speak_of_a_draft(client, operator, make_instance):
    instance = make_instance(status=ElementInstance.Status.ACTIVE, remote_id=8181)
    client.force_login(operator)

    page = client.post(reverse("links:send", args=[instance.uuid]), follow=True).content.decode()

    assert links.live_link(instance).purpose == "reauthorize"
    assert "Re-authorization link made; the instance works as before" in page
    assert "draft" not in page.split("success-note", 1)[1].split("</p>", 1)[0]


def test_the_owner_page_starts_its_sentence_with_the_organisation(client, operator, draft_link):
    page = client.get(f"/connect/{draft_link.token}/").content.decode()

    assert "<p>Your administrator can then read and change the files" in page
    assert ", Your administrator" not in page


@pytest.fixture
def draft_link(operator, make_instance):
    return links.make_link(instance=make_instance(), actor=operator)
