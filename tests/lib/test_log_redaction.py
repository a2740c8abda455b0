"""Secrets never reach a log line (issue 10, point 12).

The product rarely logs a string the filter would rewrite, and Django's `django` and
`django.server` loggers do not propagate to pytest's log capture: these tests feed every secret
shape the filter claims to redact through it, and read what the configured console handler
actually writes, in process and from a real `manage.py runserver`.
"""

from __future__ import annotations

import io
import logging
import os
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests
from django.core.servers.basehttp import WSGIRequestHandler
from django.views.debug import ExceptionReporter

from instances.cloud_elements import client as cloud_elements
from instances.lib.logging import RedactSecretsFilter, redact

ROOT = Path(__file__).resolve().parents[2]
API_SECRET = "app-secret-Qz81vLw"
CODE = "oauth-code-Mn47Xe"
STATE = "oauth-state-Rt92Kp"
USER_SECRET = "user-secret-Hb63Tc"
ORG_SECRET = "org-secret-Jw28Fs"
TOKEN = "elementTokenAbcdEf0123456789=="
SIGNATURE = "sha256=jHdbRx5EZAsOfTwAPJOGkNUzQMVVdu5VJlxcsk+G6jQ="

# Each shape the filter documents, with the secret it must remove.
SHAPES = {
    "apiSecret query value": (f"GET /oauth/url?apiKey=k&apiSecret={API_SECRET}&x=1", API_SECRET),
    "apiSecret any case": (f"url: /oauth/url?APISECRET={API_SECRET}", API_SECRET),
    "apiSecret in a repr": (f"params={{'x': 1}} url='/u?apiSecret={API_SECRET}'", API_SECRET),
    "user secret": (f"Authorization: User {USER_SECRET}, Organization {ORG_SECRET}", USER_SECRET),
    "organization secret": (f"User {USER_SECRET}, Organization {ORG_SECRET}", ORG_SECRET),
    "element token": (f"Authorization: Element {TOKEN}", TOKEN.rstrip("=")),
    "signature": (f"Elements-Webhook-Signature: {SIGNATURE}", SIGNATURE.removeprefix("sha256=")),
    "code first": (f"GET /instances/oauth/callback/?code={CODE}&state=s HTTP/1.1", CODE),
    "code later": (f"GET /cb/?state=s&code={CODE} HTTP/1.1", CODE),
    "state first": (f"GET /instances/oauth/callback/?state={STATE}&code=c HTTP/1.1", STATE),
    "state later": (f"GET /cb/?code=c&state={STATE}", STATE),
}


@pytest.mark.parametrize(("text", "secret"), SHAPES.values(), ids=SHAPES.keys())
def test_redact_removes_every_documented_shape(text, secret):
    cleaned = redact(text)

    assert secret not in cleaned
    assert "[redacted]" in cleaned


@pytest.mark.parametrize(("text", "secret"), SHAPES.values(), ids=SHAPES.keys())
def test_the_filter_redacts_a_record_built_from_arguments(text, secret):
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "seen: %s (%d)", (text, 7), None)

    assert RedactSecretsFilter().filter(record) is True
    assert secret not in record.getMessage()
    assert record.getMessage().startswith("seen: ")
    assert record.getMessage().endswith(" (7)")


def test_the_filter_leaves_harmless_text_alone():
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "GET %s", ("/instances/?q=a",), None)

    RedactSecretsFilter().filter(record)

    assert record.getMessage() == "GET /instances/?q=a"
    assert record.args == ("/instances/?q=a",)


@contextmanager
def console_output(logger_name: str):
    """What the configured (redacting) console handler of `logger_name` writes."""
    logger = logging.getLogger(logger_name)
    [handler] = [
        h for h in logger.handlers if any(isinstance(f, RedactSecretsFilter) for f in h.filters)
    ]
    stream = io.StringIO()
    previous = handler.setStream(stream)
    try:
        yield stream
    finally:
        handler.setStream(previous)


class RequestLine(WSGIRequestHandler):
    """Django's development server request handler, logging one request line."""

    def __init__(self, requestline: str) -> None:  # no socket: only log_request is used
        self.requestline = requestline
        self.request = None
        self.client_address = ("127.0.0.1", 50000)


@pytest.mark.parametrize("status", [200, 302, 404])
def test_a_development_server_request_line_is_redacted(status):
    line = (
        f"GET /instances/oauth/callback/?code={CODE}&state={STATE} HTTP/1.1",
        f"GET /sandbox/elements/api-v2/elements/dropbox/oauth/url?apiKey=k&apiSecret="
        f"{API_SECRET}&callbackUrl=x&state={STATE} HTTP/1.1",
    )
    with console_output("django.server") as output:
        for requestline in line:
            RequestLine(requestline).log_request(status)

    text = output.getvalue()
    assert text.count("django.server") == 2
    assert "/instances/oauth/callback/?code=[redacted]&state=[redacted]" in text
    for secret in (CODE, STATE, API_SECRET):
        assert secret not in text


def test_a_logged_error_traceback_is_redacted(client, db):
    # An exception whose message carries a URL with its query string, logged with its
    # traceback by the `django` logger (as django.request logs a 500).
    try:
        raise ValueError(f"Max retries exceeded with url: /oauth/url?apiSecret={API_SECRET}")
    except ValueError:
        with console_output("django") as output:
            logging.getLogger("django.request").error("Internal Server Error", exc_info=True)

    text = output.getvalue()
    assert "ValueError: Max retries exceeded with url: /oauth/url?apiSecret=[redacted]" in text
    assert API_SECRET not in text


def test_an_error_report_hides_the_variables_marked_sensitive(settings):
    # What Django's error report (admin e-mails, error-reporting handlers) shows of a failed
    # call with DEBUG off; with DEBUG on, Django shows every variable by design.
    settings.DEBUG = False
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings.CLOUD_ELEMENTS_BASE_URL = f"http://127.0.0.1:{port}/elements/api-v2"
    try:
        cloud_elements.get_oauth_url(
            element_key="dropbox",
            api_key="app-key",
            api_secret=API_SECRET,
            callback_url="http://127.0.0.1:8000/instances/oauth/callback/",
            state=STATE,
        )
    except cloud_elements.CloudElementsError:
        report = ExceptionReporter(None, *sys.exc_info())
        text = report.get_traceback_text()
        page = report.get_traceback_html()
    else:
        raise AssertionError("the call should have failed")

    assert "get_oauth_url" in text
    assert "<td>api_secret</td>" in page  # the variable is listed, its value is not
    assert "<td>params</td>" in page
    for secret in (API_SECRET, STATE):
        assert secret not in text
        assert secret not in page


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_runserver_writes_no_secret_from_a_query_string(tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CLOUD_ELEMENTS", "PYTEST"))}
    # In sandbox mode runserver refuses a SITE_URL that is not the address it serves.
    env.update(
        DEBUG="true",
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        SITE_URL=f"http://127.0.0.1:{port}",
    )
    server = subprocess.Popen(
        [
            sys.executable,
            "manage.py",
            "runserver",
            "--noreload",
            "--nothreading",
            "--skip-checks",
            f"{port}",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                requests.get(base + "/healthz", timeout=10)
                break
            except requests.RequestException:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise
                time.sleep(0.1)
        requests.get(
            f"{base}/instances/oauth/callback/?code={CODE}&state={STATE}",
            allow_redirects=False,
            timeout=10,
        )
        requests.get(
            f"{base}/sandbox/elements/api-v2/elements/dropbox/oauth/url"
            f"?apiKey=k&apiSecret={API_SECRET}&callbackUrl=x&state={STATE}",
            timeout=10,
        )
        # One request at a time: once this one is answered, the lines above were written.
        requests.get(base + "/healthz", timeout=10)
    finally:
        server.terminate()
        output, _ = server.communicate(timeout=20)

    assert "GET /instances/oauth/callback/?code=[redacted]&state=[redacted]" in output
    assert "oauth/url?apiKey=k&apiSecret=[redacted]" in output
    for secret in (CODE, STATE, API_SECRET):
        assert secret not in output
