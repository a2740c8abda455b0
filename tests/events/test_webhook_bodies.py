"""Bodies the receiver must read or refuse correctly (issue 10, points 2 and 3).

- A body no retry can fix (UTF-16, UTF-32, NUL characters, values the database refuses) gets a
  4xx with a clear JSON message, never the 503 that would make Cloud Elements retry for days.
  Runs on SQLite and on PostgreSQL (which refuses NUL characters in text).
- A body sent with `Transfer-Encoding: chunked` and no `Content-Length` is read, with the size
  limit enforced while reading. Django's test client always sends a Content-Length, so these go
  through a real HTTP server (the live server) as raw chunked requests, and through the WSGI
  environ gunicorn builds (decoded body, no CONTENT_LENGTH).
"""

from __future__ import annotations

import contextlib
import http.client
import io
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import gunicorn
import pytest
import requests
from django.core import signals
from django.core.handlers.wsgi import WSGIHandler
from django.db import DataError, close_old_connections, connection
from django.test import RequestFactory

from instances.events.models import EventNotification
from instances.events.signatures import SIGNATURE_HEADER, sign
from instances.models import ElementInstance
from tests.events.receiver_helpers import KEY, deliver, message_body, url_for, with_key

ROOT = Path(__file__).resolve().parents[2]
ACTIVE = ElementInstance.Status.ACTIVE
VERIFIED = EventNotification.Signature.VERIFIED


@pytest.fixture
def instance(make_instance) -> ElementInstance:
    return with_key(make_instance("Finance Dropbox", status=ACTIVE, remote_id=1011), KEY)


# --- Bodies no retry can fix ---------------------------------------------------------------------

TEXT = message_body("evt-encoded").decode()
NOT_UTF8 = {
    "utf-16-with-bom": TEXT.encode("utf-16"),
    "utf-16-le": TEXT.encode("utf-16-le"),
    "utf-16-be": TEXT.encode("utf-16-be"),
    "utf-32": TEXT.encode("utf-32"),
    "utf-32-le": TEXT.encode("utf-32-le"),
    "utf-8-with-a-raw-nul": TEXT.replace("q3.pdf", "q3\x00.pdf").encode(),
    "latin-1": TEXT.replace("q3", "q3é").encode("latin-1"),
}


@pytest.mark.parametrize("body", NOT_UTF8.values(), ids=NOT_UTF8.keys())
def test_a_signed_body_that_is_not_utf8_json_gets_400_with_a_reason(client, instance, body):
    response = deliver(client, instance, body)

    assert response.status_code == 400
    error = response.json()["error"]
    assert "UTF-8" in error
    assert not EventNotification.objects.exists()


@pytest.mark.parametrize("body", NOT_UTF8.values(), ids=NOT_UTF8.keys())
def test_a_body_that_is_not_utf8_gets_the_same_answer_every_time(client, instance, body):
    # What Cloud Elements would see on each of its retries: never a 5xx.
    answers = {deliver(client, instance, body).status_code for _ in range(3)}

    assert answers == {400}


def test_a_utf8_body_with_an_escaped_nul_is_still_stored(client, instance):
    body = message_body("evt-escaped-nul", events=[{"eventType": "CREATED", "objectId": "a\0b"}])
    assert b"\\u0000" in body

    assert deliver(client, instance, body).status_code == 200
    stored = EventNotification.objects.get()
    assert stored.object_id == "a\ufffdb"
    assert stored.body == body.decode()


def test_values_the_database_refuses_get_400_not_503(client, instance):
    # The fault is injected at the database seam: the event's insert is refused.
    def refuse(run, sql, params, many, context):
        if sql.lstrip().startswith(("INSERT", "WITH")) and "instances_eventnotification" in sql:
            raise DataError("invalid byte sequence for encoding UTF8: 0x00")
        return run(sql, params, many, context)

    with connection.execute_wrapper(refuse):
        response = deliver(client, instance, message_body("evt-data-error"))

    assert response.status_code == 400
    assert response.json() == {"error": "The notification holds values that cannot be stored."}


# --- Chunked bodies through a real HTTP server --------------------------------------------------

live = pytest.mark.django_db(transaction=True)


def post_chunked(server, path: str, chunks: list[bytes], headers: dict) -> tuple[int, dict]:
    """POST with Transfer-Encoding: chunked and no Content-Length, as http.client sends it."""
    host = urlsplit(server if isinstance(server, str) else server.url)
    connection = http.client.HTTPConnection(host.hostname, host.port, timeout=20)
    try:
        # The server may answer (413) and close before the whole body is sent, as a real
        # sender may meet too; its answer is still there to read.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            connection.request(
                "POST",
                path,
                body=iter(chunks),
                headers={"Content-Type": "application/json", **headers},
                encode_chunked=True,
            )
        response = connection.getresponse()
        return response.status, json.loads(response.read() or b"{}")
    finally:
        connection.close()


def pieces(body: bytes, size: int) -> list[bytes]:
    return [body[n : n + size] for n in range(0, len(body), size)]


@live
def test_a_signed_chunked_delivery_is_stored_as_verified(live_server, instance):
    body = message_body("evt-chunked")

    status, answer = post_chunked(
        live_server, url_for(instance), pieces(body, 37), {SIGNATURE_HEADER: sign(KEY, body)}
    )

    assert (status, answer) == (200, {})
    stored = EventNotification.objects.get()
    assert stored.signature == VERIFIED
    assert stored.remote_event_id == "evt-chunked"
    assert stored.body == body.decode()


@live
def test_a_chunked_body_of_two_mib_gets_413_and_nothing_is_stored(live_server, instance, settings):
    assert settings.WEBHOOK_MAX_BODY_BYTES == 1_048_576
    body = message_body("evt-big", padding="x" * (2 * 1024 * 1024))

    status, answer = post_chunked(
        live_server, url_for(instance), pieces(body, 65536), {SIGNATURE_HEADER: sign(KEY, body)}
    )

    assert status == 413
    assert answer == {"error": "The body is larger than allowed."}
    assert not EventNotification.objects.exists()


@live
def test_a_chunked_body_at_the_limit_is_accepted(live_server, instance, settings):
    body = message_body("evt-at-limit")
    settings.WEBHOOK_MAX_BODY_BYTES = len(body)

    status, _ = post_chunked(
        live_server, url_for(instance), pieces(body, 100), {SIGNATURE_HEADER: sign(KEY, body)}
    )

    assert status == 200
    assert EventNotification.objects.count() == 1


@live
def test_a_chunked_body_with_a_bad_signature_is_refused(live_server, instance):
    body = message_body("evt-chunked-forged")

    status, _ = post_chunked(
        live_server, url_for(instance), pieces(body, 50), {SIGNATURE_HEADER: sign("x", body)}
    )

    assert status == 401
    assert not EventNotification.objects.exists()


@live
def test_broken_chunk_framing_gets_400(live_server, instance):
    host = urlsplit(live_server.url)
    request = (
        f"POST {url_for(instance)} HTTP/1.1\r\nHost: {host.netloc}\r\n"
        "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n"
        "Connection: close\r\n\r\nnot-hex\r\n{}\r\n0\r\n\r\n"
    ).encode()
    with socket.create_connection((host.hostname, host.port), timeout=20) as raw:
        raw.sendall(request)
        answer = b""
        while chunk := raw.recv(65536):
            answer += chunk

    assert answer.startswith(b"HTTP/1.1 400")
    assert b"chunked body is malformed" in answer
    assert not EventNotification.objects.exists()


# --- The environ gunicorn builds for a chunked request ------------------------------------------


def gunicorn_style(instance: ElementInstance, body: bytes, signature: str) -> tuple[int, bytes]:
    """Call the WSGI application as gunicorn does for a chunked request: the body decoded,
    wsgi.input ending at EOF, no CONTENT_LENGTH, the Transfer-Encoding header kept."""
    environ = RequestFactory().post(url_for(instance), content_type="application/json").environ
    environ = {key: value for key, value in environ.items() if key != "CONTENT_LENGTH"}
    environ.update(
        {
            "wsgi.input": io.BufferedReader(io.BytesIO(body)),
            "HTTP_TRANSFER_ENCODING": "chunked",
            "HTTP_ELEMENTS_WEBHOOK_SIGNATURE": signature,
        }
    )
    answer: list[str] = []
    # As Django's test client does: a request must not close the test's database connection.
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        result = WSGIHandler()(environ, lambda status, headers: answer.append(status))
        content = b"".join(result)
        result.close()
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)
    return int(answer[0].split()[0]), content


def test_a_decoded_chunked_body_without_a_length_is_read_as_gunicorn_passes_it(instance):
    body = message_body("evt-gunicorn")

    status, content = gunicorn_style(instance, body, sign(KEY, body))

    assert (status, content) == (200, b"{}")
    assert EventNotification.objects.get().remote_event_id == "evt-gunicorn"


def test_a_decoded_chunked_body_over_the_limit_gets_413(instance, settings):
    settings.WEBHOOK_MAX_BODY_BYTES = 1000
    body = message_body("evt-gunicorn-big", padding="x" * 5000)

    status, _ = gunicorn_style(instance, body, sign(KEY, body))

    assert status == 413
    assert not EventNotification.objects.exists()


# --- gunicorn itself, the documented production server -----------------------------------------


@pytest.fixture
def gunicorn_url(transactional_db):
    """gunicorn serving this project on the test database, in its own process."""
    database = connection.settings_dict
    if database["ENGINE"].endswith("sqlite3"):
        url = f"sqlite:///{database['NAME']}"
    else:
        credentials = database["USER"] + (
            f":{database['PASSWORD']}" if database["PASSWORD"] else ""
        )
        url = (
            f"postgres://{credentials}@{database['HOST'] or '127.0.0.1'}:"
            f"{database['PORT'] or 5432}/{database['NAME']}"
        )
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "DATABASE_URL"))}
    env.update(DEBUG="true", DATABASE_URL=url, CLOUD_ELEMENTS_BASE_URL="")
    command = [sys.executable, "-m", "gunicorn", "config.wsgi", "--bind", f"127.0.0.1:{port}"]
    if gunicorn.version_info >= (27,):
        # Its control socket has one default path per user: never share it with a real server.
        command.append("--no-control-socket")
    server = subprocess.Popen(
        command,
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                # The first answer waits for the worker to boot Django.
                if requests.get(base + "/healthz", timeout=10).status_code == 200:
                    break
            except requests.RequestException:
                if server.poll() is not None:
                    raise
            assert time.monotonic() < deadline, "gunicorn did not start"
            time.sleep(0.1)
        yield base
    finally:
        server.terminate()
        server.wait(20)


def test_gunicorn_passes_a_signed_chunked_delivery_on(gunicorn_url, instance):
    body = message_body("evt-gunicorn-chunked")

    status, answer = post_chunked(
        gunicorn_url, url_for(instance), pieces(body, 41), {SIGNATURE_HEADER: sign(KEY, body)}
    )

    assert (status, answer) == (200, {})
    assert EventNotification.objects.get().remote_event_id == "evt-gunicorn-chunked"


def test_gunicorn_refuses_a_chunked_body_of_two_mib_with_413(gunicorn_url, instance):
    body = message_body("evt-gunicorn-big", padding="x" * (2 * 1024 * 1024))

    status, answer = post_chunked(
        gunicorn_url, url_for(instance), pieces(body, 65536), {SIGNATURE_HEADER: sign(KEY, body)}
    )

    assert status == 413
    assert not EventNotification.objects.exists()
