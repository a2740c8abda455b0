"""Who may open and submit the instance form at /instances/new/.

An anonymous visitor and a non-staff user are sent to the login page, a view-only user is
forbidden, and in none of these cases is anything saved or sent to Cloud Elements (faked at the
client's seam). The admin's add page leads to the form.
"""

from __future__ import annotations

import pytest

from instances.models import ElementInstance
from tests.instances.form_helpers import NEW, valid_data

pytestmark = pytest.mark.usefixtures("fast_test_setup")


def test_an_anonymous_visitor_is_sent_to_the_login_page(client, db, remote_calls):
    response = client.get(NEW)
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")

    response = client.post(NEW, valid_data())
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")
    assert not ElementInstance.objects.exists()
    assert remote_calls == []


def test_a_non_staff_user_is_sent_to_the_login_page(client, outsider, remote_calls):
    client.force_login(outsider)
    response = client.get(NEW)
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_a_non_staff_user_can_never_create_an_instance(client, outsider, remote_calls):
    client.force_login(outsider)
    for response in (client.get(NEW), client.post(NEW, valid_data())):
        assert response.status_code == 302
        assert response["Location"].startswith("/admin/login/")
    assert not ElementInstance.objects.exists()
    assert remote_calls == []


def test_a_view_only_user_is_forbidden_to_open_the_form(client, viewer):
    client.force_login(viewer)
    assert client.get(NEW).status_code == 403


def test_a_view_only_user_is_forbidden_to_submit_the_form(client, viewer, remote_calls):
    client.force_login(viewer)
    response = client.post(NEW, valid_data())
    assert response.status_code == 403
    assert not ElementInstance.objects.exists()
    assert remote_calls == []


def test_the_admin_add_page_leads_to_the_form(operator_client):
    response = operator_client.get("/admin/instances/elementinstance/add/")
    assert response.status_code == 302
    assert response["Location"] == NEW
