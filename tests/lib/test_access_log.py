"""A real gunicorn with the README's logger class writes no consent token, OAuth code or state
and no apiSecret to its access log, in the default format and in one with the bare path and
query string (`%(U)s`, `%(q)s`). Issue 26, item 5."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

from tests.job_helpers import ROOT, worker_env

pytestmark = pytest.mark.django_db
TOKEN = "consent-token-0123456789abcdefghijklmnopqrstuv"
CODE, STATE, SECRET = "oauth-code-4242", "oauth-state-9898", "sandbox-app-secret-7777"
PATHS = [
    f"/connect/{TOKEN}/",
    f"/instances/oauth/callback/?code={CODE}&state={STATE}",
    f"/sandbox/elements/api-v2/elements/dropbox/oauth/url?apiKey=k&apiSecret={SECRET}",
]
FORMATS = [None, '%(h)s "%(m)s %(U)s" %(q)s %(s)s']


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _get(url: str) -> None:
    # A 404 or a 401 is logged like any answer.
    with contextlib.suppress(urllib.error.HTTPError):
        urllib.request.urlopen(url, timeout=10)  # noqa: S310 (loopback only)


@pytest.mark.parametrize("log_format", FORMATS, ids=["default format", "path and query"])
def test_gunicorn_logs_no_secret_of_a_request_line(log_format):
    port = _free_port()
    site = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "gunicorn", "config.wsgi", "--bind", f"127.0.0.1:{port}"]
    command += ["--workers", "1", "--access-logfile", "-", "--error-logfile", os.devnull]
    command += ["--logger-class", "instances.lib.access_log.RedactingLogger"]
    if log_format:
        command += ["--access-logformat", log_format]
    server = subprocess.Popen(
        command, cwd=ROOT, env=worker_env(site), stdout=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"{site}/healthz", timeout=1)  # noqa: S310
                break
            except OSError:
                assert time.monotonic() < deadline, "gunicorn did not start"
                time.sleep(0.2)
        for path in PATHS:
            _get(site + path)
    finally:
        server.terminate()
        log, _ = server.communicate(timeout=30)

    for secret in (TOKEN, CODE, STATE, SECRET):
        assert secret not in log
    # Each request was logged, with what is not secret kept.
    assert '"GET /connect/[redacted]/' in log
    assert "/instances/oauth/callback/" in log and "code=[redacted]&state=[redacted]" in log
    assert "apiKey=k&apiSecret=[redacted]" in log
