"""Reading the instance list at /instances/: the names it lists, one instance's row, its switch.

Nothing here talks to Cloud Elements: listing reads only the local database.
"""

from __future__ import annotations

import html
import re

from django.urls import reverse

from instances.models import ElementInstance, WebhookSettings

Status = ElementInstance.Status


INDEX = reverse("instances:index")


ROW_NAME = re.compile(r'<th scope="row">(?:<input [^>]+> )?<a href="[^"]+">([^<]+)</a></th>')


def listed(response) -> list[str]:
    """Names of the instances in the table, in page order."""
    assert response.status_code == 200
    return [html.unescape(name) for name in ROW_NAME.findall(response.text)]


def row(page: str, instance: ElementInstance) -> str:
    """The table row (<tr>…</tr>) of `instance`."""
    rows = [r for r in page.split("<tr>") if f'href="{instance.get_absolute_url()}"' in r]
    assert len(rows) == 1, f"{instance.name} is not listed once"
    return rows[0].split("</tr>")[0]


def events_on(instance: ElementInstance, enabled: bool = True) -> ElementInstance:
    WebhookSettings.objects.filter(instance=instance).update(enabled=enabled)
    return instance


def toggle_action(instance: ElementInstance) -> str:
    return f'action="{reverse("instances:events", args=[instance.uuid])}"'
