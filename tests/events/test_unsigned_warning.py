"""Events without a signature key: the form, the edit pages and the instance page say so."""

from __future__ import annotations

import pytest
from django.urls import reverse

from instances.models import ElementInstance

WARNING = "anyone who knows the Event Notification Callback URL can post events"
Status = ElementInstance.Status


def with_webhook(instance: ElementInstance, *, enabled: bool, key: str = "") -> ElementInstance:
    instance.webhook.enabled = enabled
    instance.webhook.signature_key = key
    instance.webhook.save()
    return instance


def edit_url(instance: ElementInstance) -> str:
    return reverse("instances:edit", args=[instance.uuid])


def test_the_new_form_warns_and_offers_to_generate(client, operator):
    client.force_login(operator)
    html = client.get(reverse("instances:new")).text
    assert WARNING in html
    assert 'data-key-input="id_signature_key"' in html
    assert 'data-events-input="id_events_enabled"' in html  # hidden by script while off


@pytest.mark.parametrize("status", [Status.DRAFT, Status.FAILED, Status.ACTIVE])
@pytest.mark.parametrize(("key", "warned"), [("", True), ("a-signature-key-long-1234", False)])
def test_the_edit_pages_warn_only_without_a_key(
    client, operator, make_instance, status, key, warned
):
    instance = with_webhook(make_instance(status=status, remote_id=5), enabled=True, key=key)
    client.force_login(operator)
    html = client.get(edit_url(instance)).text
    assert (WARNING in html) is warned
    assert "Generate a strong key" in html


@pytest.mark.parametrize(
    ("enabled", "key", "warned"),
    [(True, "", True), (True, "a-signature-key-long-1234", False), (False, "", False)],
)
def test_the_instance_page_warns_when_events_are_on_without_a_key(
    client, operator, make_instance, enabled, key, warned
):
    instance = make_instance(status=Status.ACTIVE, remote_id=5)
    with_webhook(instance, enabled=enabled, key=key)
    client.force_login(operator)
    html = client.get(instance.get_absolute_url()).text
    assert (WARNING in html) is warned
    assert (f'<a href="{edit_url(instance)}">Add a signature key</a>' in html) is warned


def test_a_view_only_user_is_warned_without_an_edit_link(client, viewer, make_instance):
    instance = with_webhook(make_instance(status=Status.ACTIVE, remote_id=5), enabled=True)
    client.force_login(viewer)
    html = client.get(instance.get_absolute_url()).text
    assert WARNING in html
    assert "Add a signature key" not in html
