"""The shared cast: an operator, a read-only staff user, a non-staff user, and instances."""

from __future__ import annotations

import os
import socket
from email import message_from_bytes

import pytest
from aiosmtpd.controller import Controller
from django.contrib.auth.models import Permission, User

from instances.models import ElementInstance, Tag

PASSWORD = "correct horse battery staple"
USER_SECRET = "sandbox-user-secret"
ORG_SECRET = "sandbox-organization-secret"
AUTH_HEADER = f"User {USER_SECRET}, Organization {ORG_SECRET}"


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """Hash test passwords with a fast hasher: Django's PBKDF2 (a million rounds, 0.25 s a hash
    here) made every user and sign-in of the suite slow. The tests check who may sign in, not
    the hasher; production keeps Django's default."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def operator(db) -> User:
    return User.objects.create_superuser("alice", "alice@example.com", PASSWORD)


@pytest.fixture
def viewer(db) -> User:
    user = User.objects.create_user("victor", "victor@example.com", PASSWORD, is_staff=True)
    user.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_elementinstance", "view_auditentry"])
    )
    return user


@pytest.fixture
def outsider(db) -> User:
    return User.objects.create_user("olga", "olga@example.com", PASSWORD)


@pytest.fixture
def make_instance(db):
    def make(name: str = "Marketing Dropbox", *, tags=(), **fields) -> ElementInstance:
        fields.setdefault("oauth_api_key", "app-key-123")
        fields.setdefault("oauth_api_secret", "app-secret-very-long-4567")
        fields.setdefault("oauth_callback_url", "http://127.0.0.1:8000/instances/oauth/callback/")
        instance = ElementInstance.objects.create(name=name, **fields)
        instance.tags.set(Tag.for_names(list(tags)))
        return instance

    return make


@pytest.fixture
def sandbox_site(live_server, settings):
    """A live server whose sandbox the real client talks to over HTTP."""
    settings.SITE_URL = live_server.url
    settings.CLOUD_ELEMENTS_BASE_URL = ""
    return live_server


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Inbox(list):
    """What the SMTP server accepted: {"to": [...], "message": email.message.Message} each.
    `refuse` answers that many next messages with a temporary failure (451)."""

    refuse = 0

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's name)
        if self.refuse:
            self.refuse -= 1
            return "451 4.3.0 Try again later"
        message = message_from_bytes(envelope.content)
        self.append({"to": envelope.rcpt_tos, "message": message})
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp(settings):
    """A real SMTP server (aiosmtpd) on loopback, and Django's SMTP backend pointed at it."""
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=_free_port())
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = controller.port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    yield inbox
    controller.stop()


# CI fails on a skipped test: a skipped browser test must never pass for green.
_skipped: list[str] = []


def pytest_runtest_logreport(report) -> None:
    if report.skipped:
        _skipped.append(report.nodeid)


def pytest_sessionfinish(session, exitstatus) -> None:
    if os.environ.get("CI") and _skipped and not hasattr(session.config, "workerinput"):
        print(f"\nCI treats skipped tests as failures: {', '.join(_skipped)}")
        session.exitstatus = 1


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix):
    """Close each connection after its request: live-server threads must not keep the test
    database open past the session (PostgreSQL would refuse to drop it)."""
    from django.conf import settings

    settings.DATABASES["default"]["CONN_MAX_AGE"] = 0
