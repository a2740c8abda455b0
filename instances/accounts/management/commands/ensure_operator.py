"""Make sure an operator account exists, and say how to log in."""

from __future__ import annotations

import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.urls import reverse


class Command(BaseCommand):
    help = "Create the 'operator' superuser with a random password when no superuser exists."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--username", default="operator")

    def handle(self, *args, username: str, **options) -> None:
        User = get_user_model()
        login_url = f"{settings.SITE_URL}/admin/login/"
        enrol_url = f"{settings.SITE_URL}{reverse('accounts:two_factor')}"
        enrol_hint = f"Set up two-factor authentication (an authenticator app) at {enrol_url}" + (
            " (required: REQUIRE_TWO_FACTOR is on)." if settings.REQUIRE_TWO_FACTOR else "."
        )
        if User.objects.filter(is_superuser=True, is_active=True).exists():
            names = ", ".join(
                User.objects.filter(is_superuser=True, is_active=True)
                .order_by("username")
                .values_list("username", flat=True)[:5]
            )
            self.stdout.write(
                f"Log in at {login_url} as {names}. Forgot the password? Run: "
                f".venv/bin/python manage.py changepassword {names.split(', ')[0]}\n" + enrol_hint
            )
            return
        password = secrets.token_urlsafe(12)
        User.objects.create_superuser(username=username, email="", password=password)
        self.stdout.write(
            self.style.SUCCESS(
                f"Created the operator account. Log in at {login_url}\n"
                f"  username: {username}\n  password: {password}\n"
                "This password is shown once; change it with "
                f".venv/bin/python manage.py changepassword {username}\n" + enrol_hint
            )
        )
