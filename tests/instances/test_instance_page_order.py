"""The instance page leads with what the instance is (its facts), then what can be done, in
groups; the consent-link form comes after the settings, on every instance (issue 26, item 16)."""

from __future__ import annotations

import re

import pytest

from instances.models import ElementInstance

pytestmark = pytest.mark.django_db


def _order(html: str, *markers: str) -> list[int]:
    return [html.index(marker) for marker in markers]


@pytest.mark.parametrize("status", ["active", "draft"])
def test_facts_come_first_then_grouped_actions_then_the_consent_link(
    client, operator, make_instance, status
):
    instance = make_instance("Ordered", status=status, remote_id=77 if status == "active" else None)
    client.force_login(operator)

    html = client.get(instance.get_absolute_url()).text

    positions = _order(
        html,
        "<h2>Instance</h2>",
        'class="actions-row action-groups"',
        "<h2>Event notifications</h2>",
        'id="consent-link"',
    )
    assert positions == sorted(positions)
    groups = re.findall(r'class="action-group" role="group" aria-label="([^"]+)"', html)
    expected = ["Settings", "Access", "Delete"] if status == "active" else ["Create", "Delete"]
    assert groups == expected
    assert ElementInstance.objects.count() == 1
