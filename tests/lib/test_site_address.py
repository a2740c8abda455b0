"""Any host and port: `make run HOST=… PORT=…`, one canonical address, no stuck consent."""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from instances import oauth
from instances.cloud_elements import client as ce
from instances.lib.hosts import listen_problem
from instances.models import AuditEntry, ElementInstance, OAuthState

ROOT = Path(__file__).resolve().parents[2]
Status = ElementInstance.Status


# --- make run --------------------------------------------------------------------------------


def make_n(tmp_path: Path, *args: str, env: dict | None = None, dotenv: str = "") -> str:
    """`make -n` on a copy of the Makefile, in a directory with nothing else (or a .env)."""
    shutil.copy(ROOT / "Makefile", tmp_path / "Makefile")
    (tmp_path / "pyproject.toml").write_text("")
    if dotenv:
        (tmp_path / ".env").write_text(dotenv)
    environment = {k: v for k, v in os.environ.items() if k not in {"SITE_URL", "HOST", "PORT"}}
    environment.update(env or {})
    done = subprocess.run(
        ["make", "-n", "-C", str(tmp_path), *args],
        capture_output=True,
        text=True,
        env=environment,
        check=True,
    )
    return done.stdout


def served(out: str) -> str:
    """The line that starts the Procfile's processes: web (runserver), worker and scheduler."""
    [line] = [line for line in out.splitlines() if ".venv/bin/honcho start" in line]
    return line


def test_make_run_derives_site_url_from_the_port(tmp_path):
    out = make_n(tmp_path, "run", "PORT=8123")
    line = served(out)
    assert line.startswith("SITE_URL='http://127.0.0.1:8123' ")
    assert "HOST='127.0.0.1' PORT='8123' " in line
    assert "SITE_URL='http://127.0.0.1:8123' .venv/bin/python manage.py ensure_operator" in out


def test_make_run_derives_site_url_from_the_host(tmp_path):
    line = served(make_n(tmp_path, "run", "HOST=localhost", "PORT=9001"))
    assert line.startswith("SITE_URL='http://localhost:9001' ")
    assert "HOST='localhost' PORT='9001' " in line


def test_make_run_on_every_interface_is_reached_at_loopback(tmp_path):
    line = served(make_n(tmp_path, "run", "HOST=0.0.0.0", "PORT=9000"))
    assert line.startswith("SITE_URL='http://127.0.0.1:9000' ")
    assert "HOST='0.0.0.0' PORT='9000' " in line


def test_a_site_url_given_wins(tmp_path):
    out = make_n(tmp_path, "run", "PORT=8123", env={"SITE_URL": "https://dash.example"})
    assert served(out).startswith("SITE_URL='https://dash.example' ")


def test_a_site_url_in_dotenv_is_left_to_the_settings(tmp_path):
    out = make_n(tmp_path, "run", dotenv="DEBUG=true\nSITE_URL=http://127.0.0.1:7000\n")
    assert "SITE_URL=" not in out
    assert "HOST='127.0.0.1' PORT='8000' " in served(out)


def test_the_procfile_serves_host_and_port_beside_a_worker_the_forwarder_and_the_scheduler():
    processes = dict(
        line.split(": ", 1) for line in (ROOT / "Procfile").read_text().splitlines() if line
    )
    assert processes["web"] == "python manage.py runserver $HOST:$PORT"
    assert processes["worker"].startswith("python manage.py db_worker ")
    assert processes["scheduler"] == "python manage.py run_schedules"
    assert processes["forwarder"] == "python manage.py forward"
    # honcho gives the first process $PORT itself (the next ones get PORT+100, ...).
    assert next(iter(processes)) == "web"


def test_make_help_lists_targets_and_variables(tmp_path):
    shutil.copy(ROOT / "Makefile", tmp_path / "Makefile")
    out = subprocess.run(
        ["make", "-s", "-C", str(tmp_path), "help"], capture_output=True, text=True, check=True
    ).stdout
    for word in ("make run", "make test", "HOST", "PORT", "SITE_URL"):
        assert word in out


# --- runserver refuses to call someone else's server -------------------------------------------


@pytest.mark.parametrize(
    ("site_url", "addr", "port", "fine"),
    [
        ("http://127.0.0.1:8000", "127.0.0.1", "8000", True),
        ("http://127.0.0.1:8000", "localhost", "8000", True),
        ("http://127.0.0.1:8000", "0.0.0.0", "8000", True),
        ("http://dash.local:8000", "dash.local", "8000", True),
        ("http://127.0.0.1:8000", "127.0.0.1", "8123", False),
        ("http://127.0.0.1:8000", "0.0.0.0", "8123", False),
        ("http://dash.local:8000", "127.0.0.1", "8000", False),
        ("http://127.0.0.1", "127.0.0.1", "80", True),
    ],
)
def test_the_listening_address_must_be_site_url(settings, site_url, addr, port, fine):
    settings.SITE_URL = site_url
    assert (listen_problem(addr, port) == "") is fine


def test_runserver_refuses_to_serve_the_sandbox_on_another_port(settings):
    settings.SITE_URL = "http://127.0.0.1:8000"
    settings.CLOUD_ELEMENTS_BASE_URL = ""
    settings.CLOUD_ELEMENTS_SANDBOX = True
    with pytest.raises(CommandError, match=r"SITE_URL is http://127.0.0.1:8000.*PORT=8123"):
        call_command("runserver", "127.0.0.1:8123", use_reloader=False, skip_checks=True)


# --- One address per server ------------------------------------------------------------------


@pytest.fixture
def development(settings):
    settings.DEBUG = True
    settings.SITE_URL = "http://127.0.0.1:8000"
    settings.CLOUD_ELEMENTS_BASE_URL = ""
    settings.CLOUD_ELEMENTS_SANDBOX = True


@pytest.mark.parametrize("alias", ["localhost:8000", "[::1]:8000"])
def test_a_page_on_another_loopback_name_moves_to_site_url(client, db, development, alias):
    response = client.get("/instances/new/?x=1", HTTP_HOST=alias)
    assert response.status_code == 302
    assert response["Location"] == "http://127.0.0.1:8000/instances/new/?x=1"


def test_a_form_posted_on_another_loopback_name_is_refused_clearly(client, db, development):
    response = client.post("/instances/new/", {"name": "x"}, HTTP_HOST="localhost:8000")
    assert response.status_code == 400
    assert "http://127.0.0.1:8000" in response.text and "Nothing was saved" in response.text
    assert not ElementInstance.objects.exists()


@pytest.mark.parametrize(
    "host",
    ["127.0.0.1:8000", "localhost:8123"],  # SITE_URL itself; another server's port
)
def test_site_url_and_other_ports_are_served_as_they_are(client, operator, development, host):
    client.force_login(operator)
    assert client.get("/instances/", HTTP_HOST=host).status_code == 200


def test_machines_are_never_redirected(client, db, development):
    response = client.post(
        "/webhooks/00000000-0000-0000-0000-000000000000/",
        b"{}",
        "application/json",
        HTTP_HOST="localhost:8000",
    )
    assert response.status_code == 404


def test_production_is_left_alone(client, operator, settings):
    settings.DEBUG = False
    settings.SITE_URL = "http://127.0.0.1:8000"
    client.force_login(operator)
    assert client.get("/instances/", HTTP_HOST="localhost:8000").status_code == 200


def test_the_sandbox_consent_screen_is_an_allowed_form_target(settings):
    form_action = settings.CONTENT_SECURITY_POLICY["DIRECTIVES"]["form-action"]
    assert settings.SITE_ORIGIN in form_action


# --- A consent never completed ----------------------------------------------------------------


def authorizing(make_instance, *, minutes_ago: int) -> ElementInstance:
    instance = make_instance("Stuck", status=Status.AUTHORIZING)
    then = timezone.now() - timedelta(minutes=minutes_ago)
    OAuthState.objects.create(
        state_hash=OAuthState.digest(f"s-{minutes_ago}"),
        session_hash=OAuthState.digest("session"),
        instance=instance,
        element_key="dropbox",
        created_at=then,
    )
    ElementInstance.objects.filter(pk=instance.pk).update(updated_at=then)
    return instance


def test_an_expired_consent_puts_the_instance_back_to_draft(client, operator, make_instance):
    instance = authorizing(make_instance, minutes_ago=11)
    client.force_login(operator)

    page = client.get(instance.get_absolute_url()).text

    instance.refresh_from_db()
    assert instance.status == Status.DRAFT
    assert "not completed within 10 minutes" in instance.last_error
    assert "Retry" in page and "not completed within 10 minutes" in page
    assert instance.audit_entries.filter(action=AuditEntry.Action.AUTHORIZATION_DENIED).exists()


def test_a_consent_in_progress_is_left_alone(client, operator, make_instance):
    instance = authorizing(make_instance, minutes_ago=3)
    client.force_login(operator)
    client.get("/instances/")
    instance.refresh_from_db()
    assert instance.status == Status.AUTHORIZING


def test_releasing_costs_one_query_when_nothing_is_stale(db, django_assert_num_queries):
    with django_assert_num_queries(1):
        assert oauth.release_expired_consents() == 0


# --- The sandbox the client calls is this server ---------------------------------------------


class Recorder(BaseHTTPRequestHandler):
    """Another program at SITE_URL: answers everything, as the one seen answering with a 301."""

    seen: list[tuple[str, str, str]] = []

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        Recorder.seen.append((self.command, self.path, self.headers.get("Authorization", "")))
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b'{"proof": "anything", "oauthUrl": "http://evil.example/"}')

    do_POST = do_GET

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def other_program():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    Recorder.seen = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_no_secret_goes_to_another_program_listening_at_site_url(settings, other_program):
    settings.SITE_URL = other_program
    settings.CLOUD_ELEMENTS_BASE_URL = ""
    with pytest.raises(ce.CloudElementsConnectionError, match="did not answer as this dashboard"):
        ce.get_oauth_url(
            element_key="dropbox",
            api_key="app-key",
            api_secret="app-secret-must-stay-home",
            callback_url=f"{other_program}/instances/oauth/callback/",
            state="s",
        )
    assert [path.split("?")[0] for _, path, _ in Recorder.seen] == ["/sandbox/identity"]
    assert not any("app-secret" in path or auth for _, path, auth in Recorder.seen)


def test_the_client_trusts_the_sandbox_of_this_very_server(
    sandbox_site, settings, transactional_db
):
    ce._verified_sandboxes.discard(settings.SITE_URL)
    assert ce.list_instances() == []
    assert settings.SITE_URL in ce._verified_sandboxes
