"""The code step has a heading, and signing out says where one stands in this product's words,
not Django's stock text. Issue 26, item 12."""

from __future__ import annotations

import pytest

from tests.conftest import PASSWORD
from tests.two_factor_helpers import VERIFY, enrol, log_in

pytestmark = pytest.mark.django_db


def test_the_code_page_has_a_heading(client, operator):
    client.force_login(operator)
    enrol(client)
    client.logout()
    log_in(client, "alice", PASSWORD)

    page = client.get(VERIFY).content.decode()

    assert "<h1>Two-factor authentication</h1>" in page


def test_signing_out_says_so_in_the_products_words(client, operator):
    client.force_login(operator)

    page = client.post("/admin/logout/").content.decode()

    assert "You are signed out" in page and "quality time" not in page
    assert 'href="/admin/login/?next=/instances/"' in page
