"""Helpers shared by the consent link tests (tests/links/test_consent_link_*.py).

The fixtures (`remote`, `draft`, `link` and the autouse `setup`) are in tests/links/conftest.py.
"""

from __future__ import annotations

from django.test import Client

from instances.links.models import ConsentLink
from instances.models import AuditEntry, ElementInstance
from tests.instances.consent_helpers import CONSENT

CALLBACK = "/instances/oauth/callback/"
Action = AuditEntry.Action
Status = ElementInstance.Status


def path(link: ConsentLink) -> str:
    return f"/connect/{link.token}/"


def continue_to_dropbox(client: Client, link: ConsentLink, remote) -> str:
    """Open the link and continue, as the owner; return the state sent to Cloud Elements."""
    assert client.get(path(link)).status_code == 200
    response = client.post(path(link))
    assert response.status_code == 302, response.content[:1000]
    state = remote.states[-1]
    assert response["Location"] == CONSENT + "?state=" + state
    return state


def reloaded(instance: ElementInstance) -> ElementInstance:
    return ElementInstance.objects.get(pk=instance.pk)


def actions(instance: ElementInstance) -> list[str]:
    return list(instance.audit_entries.order_by("id").values_list("action", flat=True))
