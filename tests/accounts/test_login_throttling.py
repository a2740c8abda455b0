"""Repeated wrong passwords lock out one user name from one address, through the real login form.

django-axes counts failures per (user name, client address): a wrong guess at alice from one
address must not lock alice out elsewhere, nor lock another operator out from that address.
"""

from __future__ import annotations

import pytest
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.contrib.auth.models import User
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from instances.accounts.throttle import client_address
from tests.conftest import PASSWORD
from tests.lib.test_configuration import manage

LOGIN = "/admin/login/"
LIMIT = 5


@pytest.fixture(autouse=True)
def limits(settings):
    settings.AXES_FAILURE_LIMIT = LIMIT
    settings.TRUSTED_PROXY_COUNT = 0


def attempt(client: Client, username: str, password: str, **meta):
    data = {"username": username, "password": password, "next": "/instances/"}
    return client.post(LOGIN, data, **meta)


def fail(client: Client, username: str = "alice", times: int = LIMIT, **meta):
    return [attempt(client, username, "wrong password", **meta).status_code for _ in range(times)]


def signed_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


def test_the_limit_of_wrong_passwords_locks_the_name_with_a_clear_page(client, operator):
    statuses = fail(client)
    assert statuses == [200] * (LIMIT - 1) + [429]

    refused = attempt(client, "alice", PASSWORD)
    assert refused.status_code == 429
    assert not signed_in(client)
    html = refused.text
    assert "Too many failed log-ins" in html and "15 minutes" in html
    assert 'id="site-name"' in html, "the lock-out page is in the admin's look"
    assert "axes_reset_username" in html


def test_another_user_from_the_same_address_is_not_locked(client, operator, viewer):
    fail(client, "alice")
    response = attempt(client, "victor", PASSWORD)
    assert response.status_code == 302 and response["Location"] == "/instances/"


def test_the_same_user_from_another_address_is_not_locked(client, operator):
    fail(client, "alice", REMOTE_ADDR="198.51.100.7")
    response = attempt(client, "alice", PASSWORD, REMOTE_ADDR="192.0.2.10")
    assert response.status_code == 302 and signed_in(client)


def test_guessing_names_that_do_not_exist_locks_out_no_operator(client, operator):
    for name in ["admin", "root", "operator", "alice1"]:
        fail(client, name)
    assert attempt(client, "alice", PASSWORD).status_code == 302


def test_x_forwarded_for_is_ignored_unless_a_proxy_is_trusted(client, operator):
    # A client cannot escape the lock-out by sending a new X-Forwarded-For each time.
    for n in range(LIMIT + 1):
        attempt(client, "alice", "wrong", HTTP_X_FORWARDED_FOR=f"203.0.113.{n}")
    response = attempt(client, "alice", PASSWORD, HTTP_X_FORWARDED_FOR="203.0.113.99")
    assert response.status_code == 429
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {"127.0.0.1"}


def test_behind_a_trusted_proxy_the_address_it_saw_counts(client, operator, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    # The proxy appends the address it saw; what the client wrote to the left is not trusted.
    fail(client, "alice", HTTP_X_FORWARDED_FOR="10.9.9.9, 203.0.113.5")
    locked = attempt(client, "alice", PASSWORD, HTTP_X_FORWARDED_FOR="1.1.1.1, 203.0.113.5")
    assert locked.status_code == 429
    elsewhere = attempt(client, "alice", PASSWORD, HTTP_X_FORWARDED_FOR="203.0.113.6")
    assert elsewhere.status_code == 302


@pytest.mark.parametrize(
    ("proxies", "header", "expected"),
    [
        (0, "203.0.113.5", "127.0.0.9"),
        (1, "203.0.113.5", "203.0.113.5"),
        (1, "6.6.6.6, 203.0.113.5", "203.0.113.5"),
        (2, "6.6.6.6, 203.0.113.5, 10.0.0.2", "203.0.113.5"),
        (2, "203.0.113.5", "127.0.0.9"),
        (1, "", "127.0.0.9"),
    ],
)
def test_the_client_address_comes_from_the_trusted_part_of_x_forwarded_for(
    rf, settings, proxies, header, expected
):
    settings.TRUSTED_PROXY_COUNT = proxies
    request = rf.get("/", REMOTE_ADDR="127.0.0.9", HTTP_X_FORWARDED_FOR=header)
    assert client_address(request) == expected


def test_failures_and_successes_are_kept_for_the_admin_to_read(client, operator):
    admin_client = Client()
    admin_client.force_login(User.objects.create_superuser("root", "r@example.com", PASSWORD))

    def listed(model: str) -> bool:
        page = admin_client.get(reverse(f"admin:axes_{model}_changelist"))
        assert page.status_code == 200
        return '<td class="field-username">alice</td>' in page.text

    fail(client, "alice", times=2)
    assert listed("accessattempt") and listed("accessfailurelog")
    assert AccessFailureLog.objects.filter(username="alice").count() == 2

    attempt(client, "alice", PASSWORD)
    # A success clears the count for this name and address; the failure log stays.
    assert not listed("accessattempt") and listed("accesslog") and listed("accessfailurelog")
    assert AccessLog.objects.filter(username="alice").count() == 1
    for model in ["accessattempt", "accessfailurelog", "accesslog"]:
        assert admin_client.get(reverse(f"admin:axes_{model}_add")).status_code == 403


def test_an_admin_unlocks_by_deleting_the_access_attempt(client, operator):
    fail(client, "alice")
    lock = AccessAttempt.objects.get(username="alice")
    admin_client = Client()
    admin_client.force_login(User.objects.create_superuser("root", "r@example.com", PASSWORD))
    url = reverse("admin:axes_accessattempt_delete", args=[lock.pk])
    assert admin_client.post(url, {"post": "yes"}).status_code == 302

    assert attempt(client, "alice", PASSWORD).status_code == 302
    assert signed_in(client)


def test_the_reset_command_unlocks_a_user_name(client, operator):
    fail(client, "alice")
    call_command("axes_reset_username", "alice", stdout=open("/dev/null", "w"))  # noqa: SIM115
    assert attempt(client, "alice", PASSWORD).status_code == 302


def test_the_limits_and_the_proxy_count_come_from_the_environment():
    show = (
        "from django.conf import settings as s; "
        "print(s.AXES_FAILURE_LIMIT, s.AXES_COOLOFF_TIME, s.TRUSTED_PROXY_COUNT, "
        "s.AXES_LOCKOUT_PARAMETERS)"
    )
    defaults = manage("shell", "-c", show)
    last_line = defaults.stdout.strip().splitlines()[-1]
    assert last_line == "5 0:15:00 0 [['username', 'ip_address']]", defaults.stderr
    chosen = manage(
        "shell",
        "-c",
        show,
        LOGIN_FAILURE_LIMIT="8",
        LOGIN_LOCKOUT_MINUTES="60",
        TRUSTED_PROXY_COUNT="1",
    )
    last_line = chosen.stdout.strip().splitlines()[-1]
    assert last_line == "8 1:00:00 1 [['username', 'ip_address']]", chosen.stderr


@pytest.mark.parametrize(
    ("variable", "value"),
    [("LOGIN_FAILURE_LIMIT", "0"), ("LOGIN_LOCKOUT_MINUTES", "0"), ("TRUSTED_PROXY_COUNT", "-1")],
)
def test_a_meaningless_limit_stops_start_up_naming_the_variable(variable, value):
    result = manage("check", **{variable: value})
    assert result.returncode != 0 and variable in result.stderr
