"""A password change signs out the user's other sessions and keeps the one that made it.

Django stores a hash of the password in each session; a changed password no longer matches it,
so the next request of any other session is anonymous. The admin's password change page calls
update_session_auth_hash for the session that made the change.
"""

from __future__ import annotations

from django.conf import settings
from django.core.management import call_command
from django.test import Client

from tests.conftest import PASSWORD

NEW_PASSWORD = "a different horse, stapled twice"


def logged_in_client() -> Client:
    client = Client()
    response = client.post("/admin/login/", {"username": "alice", "password": PASSWORD})
    assert response.status_code == 302
    return client


def test_changing_the_password_signs_out_every_other_session(operator):
    changer, laptop, phone = logged_in_client(), logged_in_client(), logged_in_client()
    assert laptop.get("/instances/").status_code == 200

    response = changer.post(
        "/admin/password_change/",
        {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert response.status_code == 302 and response["Location"] == "/admin/password_change/done/"

    assert changer.get("/instances/").status_code == 200, "the session that changed it stays"
    for other in (laptop, phone):
        signed_out = other.get("/instances/")
        assert signed_out.status_code == 302
        assert signed_out["Location"].startswith("/admin/login/")
        assert "_auth_user_id" not in other.session


def test_changepassword_from_the_command_line_signs_out_every_session(operator, monkeypatch):
    laptop = logged_in_client()
    # The command reads the new password twice from the terminal.
    monkeypatch.setattr(
        "django.contrib.auth.management.commands.changepassword.getpass.getpass",
        lambda prompt="": NEW_PASSWORD,
    )
    call_command("changepassword", "alice", stdout=open("/dev/null", "w"))  # noqa: SIM115

    assert laptop.get("/instances/")["Location"].startswith("/admin/login/")
    fresh = Client()
    fresh.post("/admin/login/", {"username": "alice", "password": NEW_PASSWORD})
    assert fresh.get("/instances/").status_code == 200


def test_a_session_ends_twelve_hours_after_login(operator):
    client = logged_in_client()
    assert client.cookies[settings.SESSION_COOKIE_NAME]["max-age"] == 12 * 60 * 60
    assert client.session.get_expiry_age() == 12 * 60 * 60
