"""The admin pages of the models that moved to their own apps keep their old addresses: each
old address redirects to the new one, with its path and query."""

from __future__ import annotations

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "old, new",
    [
        (
            "/admin/instances/eventnotification/?signature__exact=unsigned",
            reverse("admin:events_eventnotification_changelist") + "?signature__exact=unsigned",
        ),
        (
            "/admin/instances/eventnotification/7/change/",
            reverse("admin:events_eventnotification_change", args=[7]),
        ),
        ("/admin/instances/job/", reverse("admin:jobs_job_changelist")),
        ("/admin/instances/job/3/change/", reverse("admin:jobs_job_change", args=[3])),
    ],
)
def test_an_old_admin_address_leads_to_the_moved_page(client, operator, old, new):
    client.force_login(operator)

    response = client.get(old)

    assert response.status_code == 302
    assert response["Location"] == new


def test_the_instance_admin_keeps_its_address(client, operator):
    client.force_login(operator)

    assert client.get("/admin/instances/elementinstance/").status_code == 200
