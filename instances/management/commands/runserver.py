"""runserver that refuses to serve the sandbox at an address other than SITE_URL.

In sandbox mode the dashboard calls Cloud Elements at SITE_URL (with the OAuth app secret in
the request). A server on another port would send those calls to whatever listens at SITE_URL.
"""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import CommandError
from whitenoise.runserver_nostatic.management.commands.runserver import (
    Command as StaticlessRunserver,
)

from instances.lib.hosts import listen_problem


class Command(StaticlessRunserver):
    def run(self, **options) -> None:
        if settings.CLOUD_ELEMENTS_SANDBOX:
            problem = listen_problem(self.addr, self.port)
            if problem:
                raise CommandError(
                    f"SITE_URL is {settings.SITE_URL}, but this server listens on "
                    f"{self.addr}:{self.port} ({problem}). In sandbox mode the dashboard calls "
                    "its sandbox at SITE_URL, with the OAuth app secret, so both must be this "
                    f"server: run `make run HOST={self.addr} PORT={self.port}` (it sets SITE_URL), "
                    f"or set SITE_URL=http://{self.addr}:{self.port}."
                )
        super().run(**options)
