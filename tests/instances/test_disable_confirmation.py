"""Disable asks first: it stops the instance for every API call. The instance page's Disable
opens a confirmation that says so and sends nothing; only its *Yes* disables. Enable needs no
confirmation. Issue 26, item 15."""

from __future__ import annotations

import pytest
from django.urls import reverse

from instances.models import ElementInstance

pytestmark = pytest.mark.django_db
ACTIVE = ElementInstance.Status.ACTIVE


def test_disable_on_the_instance_page_opens_a_confirmation(client, operator, make_instance):
    instance = make_instance(status=ACTIVE, remote_id=5150)
    client.force_login(operator)
    url = reverse("instances:set_enabled", args=[instance.uuid])

    detail = client.get(instance.get_absolute_url()).content.decode()
    confirmation = client.get(url)

    assert f'<a class="button" href="{url}">Disable</a>' in detail
    assert confirmation.status_code == 200
    page = confirmation.content.decode()
    assert "Every API call with its token is refused (403)" in page
    assert 'name="enabled" value="off"' in page and "Yes, disable it" in page
    instance.refresh_from_db()
    assert instance.remote_disabled is False


@pytest.mark.parametrize(
    "fields",
    [{"status": ACTIVE, "remote_id": 5151, "remote_disabled": True}, {"status": "draft"}],
    ids=["already disabled", "a draft"],
)
def test_there_is_nothing_to_confirm_when_it_cannot_be_disabled(
    client, operator, make_instance, fields
):
    instance = make_instance(**fields)
    client.force_login(operator)

    response = client.get(reverse("instances:set_enabled", args=[instance.uuid]))

    assert response.status_code == 302 and response["Location"] == instance.get_absolute_url()


def test_a_view_only_user_gets_no_confirmation(client, viewer, make_instance):
    instance = make_instance(status=ACTIVE, remote_id=5152)
    client.force_login(viewer)

    assert client.get(reverse("instances:set_enabled", args=[instance.uuid])).status_code == 403
