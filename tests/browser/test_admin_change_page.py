"""The admin's instance page is for review: no Save, and a link to the dashboard's Edit."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from instances.models import ElementInstance
from tests.browser.conftest import log_in
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize("viewport", [(1280, 900), (390, 844)])
def test_the_change_page_offers_edit_on_the_dashboard_and_no_save(
    page, make_instance, operator, viewport
):
    instance = make_instance("Reviewed", status=ElementInstance.Status.FAILED)
    page.set_viewport_size({"width": viewport[0], "height": viewport[1]})
    log_in(page, "alice", PASSWORD)
    page.goto(f"/admin/instances/elementinstance/{instance.pk}/change/")
    expect(page.get_by_text("Reviewed").first).to_be_visible()
    expect(page.get_by_role("button", name=re.compile("Save"))).to_have_count(0)
    page.locator("a.dashboard-edit").click()
    page.wait_for_url(f"**/instances/{instance.uuid}/edit/")
    expect(page.get_by_role("button", name="Save draft")).to_be_visible()
