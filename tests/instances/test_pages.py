"""Pages need a login (except /healthz), look like the admin, and carry the security headers."""

from __future__ import annotations

import pytest
from django.urls import reverse

from instances.models import ElementInstance


def test_healthz_reports_the_database_without_a_login(client, db):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}


@pytest.mark.parametrize("url", ["/instances/", "/admin/"])
def test_pages_require_a_login(client, db, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_the_instance_page_requires_a_login(client, make_instance):
    instance = make_instance()
    response = client.get(instance.get_absolute_url())
    assert response.status_code == 302


def test_the_home_page_leads_to_the_instance_list(client, operator):
    client.force_login(operator)
    response = client.get("/", follow=True)
    assert response.redirect_chain[-1][0] == reverse("instances:index")


def test_the_instance_list_uses_the_admin_look(client, operator, make_instance):
    make_instance("Finance", tags=["payroll"])
    client.force_login(operator)
    html = client.get(reverse("instances:index")).text
    assert 'id="site-name"' in html and "Cloud Elements instances" in html
    assert "Finance" in html and "payroll" in html


def test_the_instance_page_masks_secrets(client, operator, make_instance):
    instance = make_instance(
        oauth_api_secret="app-secret-very-long-4567",
        remote_token="token-abcdefghijkl-9876",
        status=ElementInstance.Status.ACTIVE,
        remote_id=58992,
    )
    client.force_login(operator)
    html = client.get(instance.get_absolute_url()).text
    assert "58992" in html and "Active" in html
    assert "app-secret-very-long" not in html and "••••4567" in html
    assert "token-abcdefghijkl" not in html


def test_the_instance_list_query_count_does_not_grow(
    client, operator, make_instance, django_assert_max_num_queries
):
    client.force_login(operator)
    for n in range(3):
        make_instance(f"I{n}", tags=["a", f"t{n}"])
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as few:
        client.get(reverse("instances:index"))
    for n in range(3, 40):
        make_instance(f"I{n}", tags=["a", f"t{n}"])
    with CaptureQueriesContext(connection) as many:
        client.get(reverse("instances:index"))
    assert len(many) == len(few)


def test_responses_carry_a_content_security_policy(client, db):
    csp = client.get("/healthz")["Content-Security-Policy"]
    for directive in [
        "default-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
    ]:
        assert directive in csp


def test_production_headers_and_https_redirect(client, db, settings):
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_HSTS_SECONDS = 31536000
    settings.SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    response = client.get("/healthz", secure=True)
    assert response["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"
    plain = client.get("/healthz")
    assert plain.status_code == 301 and plain["Location"].startswith("https://")


def test_the_session_cookie_stays_lax_for_the_oauth_callback(settings):
    assert settings.SESSION_COOKIE_SAMESITE == "Lax"
