"""Instances at the sandbox in bulk, and real task workers in subprocesses, for the job tests."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from django.conf import settings
from django.db import connection

from instances.models import ElementInstance
from instances.sandbox.models import SandboxInstance

ROOT = Path(__file__).resolve().parent.parent


def sandboxed(make_instance, site_url: str, count: int, *, events: bool = False, prefix="Bulk"):
    """`count` active instances, each backed by a real sandbox instance (rows written directly:
    going through consent for each would test the consent screen, not jobs)."""
    remote = SandboxInstance.objects.bulk_create(
        [_remote(f"{prefix} {n:04d}", events=events, site_url=site_url) for n in range(count)]
    )
    if not remote or remote[0].pk is None:  # SQLite before RETURNING: read the ids back
        remote = list(SandboxInstance.objects.filter(name__startswith=prefix).order_by("pk"))
    local = []
    for row in remote:
        instance = make_instance(
            row.name,
            status=ElementInstance.Status.ACTIVE,
            remote_id=row.pk,
            remote_token=row.token,
        )
        local.append(instance)
    return local


def _remote(name: str, *, events: bool, site_url: str) -> SandboxInstance:
    row = SandboxInstance(
        element_key="dropbox", name=name, token=SandboxInstance.new_token(), tags=[]
    )
    row.set_configuration(
        {
            "oauth.api.key": "sandbox-app-key",
            "oauth.api.secret": "sandbox-app-secret-0001",
            "oauth.callback.url": f"{site_url}/instances/oauth/callback/",
            "event.notification.enabled": events,
            "event.notification.callback.url": f"{site_url}/webhooks/x/",
        }
    )
    return row


def worker_env(site_url: str, **extra: str) -> dict[str, str]:
    """The environment of a worker process sharing this test's database and sandbox."""
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        url = f"sqlite:///{db['NAME']}"
    else:
        auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
        url = f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "SITE_URL": site_url,
        "FIELD_ENCRYPTION_KEYS": ",".join(settings.FIELD_ENCRYPTION_KEYS),
        "CLOUD_ELEMENTS_BASE_URL": "",
        **extra,
    }
    env.pop("PYTEST_XDIST_WORKER", None)
    return env


def start_worker(env: dict[str, str], *args: str) -> subprocess.Popen:
    command = [sys.executable, "manage.py", "db_worker", "--no-reload", "--interval", "0.1"]
    return subprocess.Popen(
        [*command, "--no-startup-delay", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def wait_for(condition, *, timeout: float = 120.0, every: float = 0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout} s")
