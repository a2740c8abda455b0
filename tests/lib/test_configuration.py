"""Start-up configuration: production checks pass, bad configuration stops with a clear message."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parents[2]

PRODUCTION = {
    "DEBUG": "false",
    "SECRET_KEY": "k3y-" + "x8Jq2mPz7Lw9Vb4Nc6Rt1Ys5Hd0Gf3Ae" * 2,
    "FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
    "ALLOWED_HOSTS": "dashboard.example.com",
    "CSRF_TRUSTED_ORIGINS": "https://dashboard.example.com",
    "SITE_URL": "https://dashboard.example.com",
    "USE_X_FORWARDED_PROTO": "true",
    "CLOUD_ELEMENTS_BASE_URL": "https://api.cloud-elements.com/elements/api-v2",
    "CLOUD_ELEMENTS_USER_SECRET": "prod-user-secret",
    "CLOUD_ELEMENTS_ORGANIZATION_SECRET": "prod-organization-secret",
}


def manage(*args: str, **environ: str) -> subprocess.CompletedProcess:
    skip = {*PRODUCTION, "DATABASE_URL", "DJANGO_ALLOW_ASYNC_UNSAFE", "CLOUD_ELEMENTS_SANDBOX"}
    env = {k: v for k, v in os.environ.items() if k not in skip}
    env.update(environ)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_deployment_check_is_clean_with_production_values():
    result = manage("check", "--deploy", "--fail-level", "WARNING", **PRODUCTION)
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


def test_the_deployment_check_fails_in_debug_mode():
    result = manage("check", "--deploy", "--fail-level", "WARNING", DEBUG="true")
    assert result.returncode != 0
    assert "security.W018" in result.stderr


def test_a_malformed_database_url_names_the_variable():
    result = manage("check", DATABASE_URL="not a url at all")
    assert result.returncode != 0
    assert "DATABASE_URL is malformed" in result.stderr


def test_a_database_url_password_is_not_echoed():
    result = manage("check", DATABASE_URL="postgres://u:hunter2-pass@/db?sslmode=require&x=%zz")
    assert "hunter2-pass" not in result.stderr + result.stdout


def test_production_without_field_encryption_keys_refuses_to_start():
    env = {**PRODUCTION, "FIELD_ENCRYPTION_KEYS": ""}
    result = manage("check", **env)
    assert result.returncode != 0
    assert "FIELD_ENCRYPTION_KEYS must be set" in result.stderr


def test_a_malformed_field_encryption_key_is_named():
    result = manage("check", **{**PRODUCTION, "FIELD_ENCRYPTION_KEYS": "too-short"})
    assert result.returncode != 0
    assert "FIELD_ENCRYPTION_KEYS entry 1 is not a valid Fernet key" in result.stderr


def test_production_without_secret_key_refuses_to_start():
    result = manage("check", **{**PRODUCTION, "SECRET_KEY": ""})
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_production_does_not_fall_back_to_the_sandbox():
    result = manage("check", **{**PRODUCTION, "CLOUD_ELEMENTS_BASE_URL": ""})
    assert result.returncode != 0
    assert "CLOUD_ELEMENTS_BASE_URL must be set when DEBUG is off" in result.stderr


def test_a_production_sandbox_needs_its_own_secrets():
    env = {
        **PRODUCTION,
        "CLOUD_ELEMENTS_BASE_URL": "",
        "CLOUD_ELEMENTS_SANDBOX": "true",
        "CLOUD_ELEMENTS_USER_SECRET": "",
        "CLOUD_ELEMENTS_ORGANIZATION_SECRET": "",
    }
    result = manage("check", **env)
    assert result.returncode != 0
    assert "must be set for a sandbox served with DEBUG off" in result.stderr
    chosen = {**env, "CLOUD_ELEMENTS_USER_SECRET": "u1", "CLOUD_ELEMENTS_ORGANIZATION_SECRET": "o1"}
    assert manage("check", **chosen).returncode == 0


def test_production_needs_an_https_site_url():
    result = manage("check", **{**PRODUCTION, "SITE_URL": "http://dashboard.example.com"})
    assert result.returncode != 0
    assert "SITE_URL must be this dashboard's public https:// address" in result.stderr


@pytest.mark.parametrize(
    "url",
    [
        "http://api.cloud-elements.com/elements/api-v2",
        "HTTP://api.cloud-elements.com/elements/api-v2",
        "api.cloud-elements.com/elements/api-v2",
    ],
)
def test_production_refuses_a_cloud_elements_url_without_https(url):
    result = manage("check", **{**PRODUCTION, "CLOUD_ELEMENTS_BASE_URL": url})
    assert result.returncode != 0
    assert "ImproperlyConfigured: CLOUD_ELEMENTS_BASE_URL must be an https:// address" in (
        result.stderr
    )
    assert "prod-user-secret" not in result.stderr + result.stdout


def test_development_may_use_an_http_cloud_elements_url():
    # The fault tests and a local stand-in speak plain HTTP on the loopback.
    result = manage(
        "check",
        DEBUG="true",
        CLOUD_ELEMENTS_BASE_URL="http://127.0.0.1:9/elements/api-v2",
        CLOUD_ELEMENTS_USER_SECRET="u",
        CLOUD_ELEMENTS_ORGANIZATION_SECRET="o",
    )
    assert result.returncode == 0, result.stderr


def test_a_malformed_timeout_is_named():
    result = manage("check", CLOUD_ELEMENTS_TIMEOUT="soon")
    assert result.returncode != 0
    assert "CLOUD_ELEMENTS_TIMEOUT must be seconds" in result.stderr


def test_a_real_cloud_elements_url_needs_its_secrets():
    result = manage(
        "check", CLOUD_ELEMENTS_BASE_URL="https://api.cloud-elements.com/elements/api-v2"
    )
    assert result.returncode != 0
    assert "CLOUD_ELEMENTS_USER_SECRET" in result.stderr


@pytest.mark.parametrize(
    "url", ["https://api.cloud-elements.com/elements/api-v2", "https://staging.example/x"]
)
def test_a_cloud_elements_url_turns_the_sandbox_off(url):
    code = (
        "import django; django.setup();"
        "from django.conf import settings; from instances.cloud_elements import client as ce;"
        "from django.urls import resolve, Resolver404\n"
        "try:\n    resolve('/sandbox/elements/api-v2/instances'); print('mounted')\n"
        "except Resolver404:\n    print('absent')\n"
        "print(settings.CLOUD_ELEMENTS_SANDBOX, ce.base_url())"
    )
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        CLOUD_ELEMENTS_BASE_URL=url,
        CLOUD_ELEMENTS_USER_SECRET="u",
        CLOUD_ELEMENTS_ORGANIZATION_SECRET="o",
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["absent", "False", url]


@pytest.mark.parametrize(("value", "jit"), [("", "off"), ("false", "on")])
def test_postgresql_connections_run_without_jit_unless_told(value, jit):
    """A search's capped COUNT cost 65 ms of JIT compiling for a 17 ms scan (docs/scaling.md):
    the dashboard's PostgreSQL connections turn it off, unless DATABASE_JIT_OFF=false."""
    show = "from django.db import connection\nc = connection.cursor()\nc.execute('SHOW jit')\n"
    result = manage(
        "shell",
        "-c",
        show + "print('jit', c.fetchone()[0])",
        DATABASE_URL="postgres://postgres@127.0.0.1:5432/postgres",
        **({"DATABASE_JIT_OFF": value} if value else {}),
    )
    assert result.returncode == 0, result.stderr
    assert f"jit {jit}" in result.stdout
