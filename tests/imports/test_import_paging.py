"""Paging of GET /instances as the import reads it.

Against the sandbox over real HTTP: the client follows `Elements-Next-Page-Token` page by page
(one GET per page, no empty page after an exact multiple), and the sandbox refuses a bad
`pageSize` or a forged `nextPage` with a 400 that says which. Against a small listener playing a
Cloud Elements that does not page (a plain array, no header) or answers light objects: the
whole account in one page, and a light object completed by GET /instances/{id}, or skipped
with a reason when the instance was deleted meanwhile.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from instances.cloud_elements import client as ce
from instances.imports import scan
from instances.jobs import engine
from instances.jobs.models import Job
from instances.models import AuditEntry, ElementInstance
from instances.sandbox.models import SandboxInstance
from instances.sandbox.seed import seed
from tests.instances.lifecycle_helpers import live

CLIENT_LOGGER = "instances.cloud_elements.client"


class PageCalls:
    """Wraps `ce.list_instance_page` at the seam the scan calls: records each page's token."""

    def __init__(self, monkeypatch) -> None:
        self.tokens: list[str] = []
        self.answers: list[ce.InstancePage] = []
        real = ce.list_instance_page

        def list_instance_page(**kwargs) -> ce.InstancePage:
            self.tokens.append(kwargs.get("next_page", ""))
            page = real(**kwargs)
            self.answers.append(page)
            return page

        monkeypatch.setattr(scan.ce, "list_instance_page", list_instance_page)


def _listing_lines(caplog) -> list[str]:
    return [
        record.getMessage()
        for record in caplog.records
        if record.name == CLIENT_LOGGER and " /instances " in record.getMessage()
    ]


# --- Against the sandbox -------------------------------------------------------------------------


@live
def test_the_import_follows_the_next_page_token_to_the_last_page(
    sandbox_site, settings, monkeypatch, caplog
):
    settings.IMPORT_PAGE_SIZE = 3
    seed(instances=8)
    remote_ids = set(SandboxInstance.objects.values_list("id", flat=True))
    calls = PageCalls(monkeypatch)
    caplog.set_level(logging.INFO, logger=CLIENT_LOGGER)

    job = Job.objects.create(kind=Job.Kind.IMPORT)
    assert engine.run_job(job.pk) == "done"

    job.refresh_from_db()
    # 8 instances by 3: three GETs, each after the first carrying the token the previous
    # answer's header gave; the last answer has no header.
    assert len(calls.tokens) == 3 and job.summary["pages"] == 3
    assert calls.tokens[0] == ""
    assert calls.tokens[1:] == [page.next_page for page in calls.answers[:-1]]
    assert all(calls.tokens[1:]) and len(set(calls.tokens)) == 3
    assert calls.answers[-1].next_page == ""
    assert [len(page.instances) for page in calls.answers] == [3, 3, 2]
    pages = [{i.id for i in page.instances} for page in calls.answers]
    assert set.union(*pages) == remote_ids and sum(map(len, pages)) == 8  # no overlap
    # Over the wire: exactly three GET /instances, all answered 200.
    lines = _listing_lines(caplog)
    assert len(lines) == 3 and all(
        line.startswith("cloud_elements GET /instances -> 200") for line in lines
    )
    assert (job.status, job.summary["imported"], job.summary["listed"], job.cursor) == (
        "done",
        8,
        8,
        "",
    )
    assert set(ElementInstance.objects.values_list("remote_id", flat=True)) == remote_ids


@live
def test_an_exact_multiple_of_the_page_size_ends_without_an_empty_page(
    sandbox_site, settings, monkeypatch
):
    settings.IMPORT_PAGE_SIZE = 3
    seed(instances=6)
    calls = PageCalls(monkeypatch)

    job = Job.objects.create(kind=Job.Kind.IMPORT)
    assert engine.run_job(job.pk) == "done"

    job.refresh_from_db()
    assert [len(page.instances) for page in calls.answers] == [3, 3]
    assert calls.answers[-1].next_page == ""
    assert (job.summary["pages"], job.summary["imported"]) == (2, 6)


def _token(payload: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode()


@live
@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"pageSize": "0"}, "'pageSize' must be between 1 and 1000."),
        ({"pageSize": "1001"}, "'pageSize' must be between 1 and 1000."),
        ({"pageSize": "-3"}, "'pageSize' must be between 1 and 1000."),
        ({"pageSize": "three"}, "'pageSize' must be a whole number."),
        (
            {"pageSize": "3", "nextPage": "forged"},
            "'nextPage' is not a page token this API issued.",
        ),
        (
            {"pageSize": "3", "nextPage": _token({"after": -1})},
            "'nextPage' is not a page token this API issued.",
        ),
        (
            {"pageSize": "3", "nextPage": _token({"after": "2"})},
            "'nextPage' is not a page token this API issued.",
        ),
        (
            {"pageSize": "3", "nextPage": _token({"before": 2})},
            "'nextPage' is not a page token this API issued.",
        ),
        (
            {"pageSize": "3", "nextPage": _token([1, 2])},
            "'nextPage' is not a page token this API issued.",
        ),
    ],
)
def test_the_sandbox_refuses_a_bad_page_size_or_a_forged_token(sandbox_site, params, message):
    seed(instances=4)
    url = sandbox_site.url + ce.SANDBOX_API_PATH + "/instances"

    answer = requests.get(url, params=params, headers=ce._headers(), timeout=10)

    assert answer.status_code == 400, answer.text
    body = answer.json()
    assert body["message"] == message
    assert body["requestId"]
    assert ce.NEXT_PAGE_HEADER not in answer.headers


@live
def test_a_valid_token_is_honoured_over_http(sandbox_site):
    seed(instances=5)
    ids = sorted(SandboxInstance.objects.values_list("id", flat=True))
    url = sandbox_site.url + ce.SANDBOX_API_PATH + "/instances"

    first = requests.get(url, params={"pageSize": 2}, headers=ce._headers(), timeout=10)
    token = first.headers[ce.NEXT_PAGE_HEADER]
    second = requests.get(
        url, params={"pageSize": 2, "nextPage": token}, headers=ce._headers(), timeout=10
    )

    assert [row["id"] for row in first.json()] == ids[:2]
    assert [row["id"] for row in second.json()] == ids[2:4]
    # Without the Authorization header nothing is listed.
    assert requests.get(url, params={"pageSize": 2}, timeout=10).status_code == 401


@live
def test_the_client_and_the_import_say_a_forged_token_was_refused(sandbox_site, settings):
    settings.IMPORT_PAGE_SIZE = 3
    seed(instances=4)

    with pytest.raises(ce.CloudElementsBadRequestError) as refused:
        ce.list_instance_page(page_size=3, next_page="forged")
    assert refused.value.status == 400
    assert refused.value.remote_message == "'nextPage' is not a page token this API issued."

    job = Job.objects.create(kind=Job.Kind.IMPORT, cursor="forged")
    assert engine.run_job(job.pk) == "failed"
    job.refresh_from_db()
    assert job.status == "failed"
    assert job.error.startswith("Stopped at page 1: Cloud Elements rejected the request.")
    assert "'nextPage' is not a page token this API issued." in job.error
    assert ElementInstance.objects.count() == 0


# --- Against a Cloud Elements played by a small listener -----------------------------------------

INSTANCE_PATH = re.compile(r"^/instances/(\d+)$")


def full_instance(instance_id: int, name: str, *, tags=("imported",)) -> dict:
    return {
        "id": instance_id,
        "name": name,
        "createdDate": "2024-05-06T07:08:09Z",
        "token": f"token-{instance_id}-abcdefghijklmnop",
        "element": {"id": 14, "name": "Dropbox", "key": "dropbox"},
        "valid": True,
        "disabled": False,
        "configuration": {
            "authentication.type": "oauth2",
            "oauth.api.key": "********",
            "oauth.api.secret": "********",
            "event.notification.enabled": False,
        },
        "eventsEnabled": False,
        "tags": list(tags),
    }


def light(instance: dict) -> dict:
    return {key: value for key, value in instance.items() if key not in ("token", "configuration")}


class Account:
    """What the listener answers (`listing` for GET /instances, `instances` by id for GET
    /instances/{id}) and every request it received."""

    def __init__(self) -> None:
        self.listing: list[dict] = []
        self.instances: dict[int, dict] = {}
        self.received: list[tuple[str, str, dict[str, list[str]]]] = []
        self.lock = threading.Lock()

    def paths(self, method: str = "GET") -> list[str]:
        return [path for verb, path, _ in self.received if verb == method]


class Handler(BaseHTTPRequestHandler):
    def _answer(self, status: int, body: object) -> None:
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def do_GET(self) -> None:
        account: Account = self.server.account
        parts = urlsplit(self.path)
        with account.lock:
            account.received.append(("GET", parts.path, parse_qs(parts.query)))
        if parts.path == "/instances":
            return self._answer(200, account.listing)  # a plain array, no paging header
        match = INSTANCE_PATH.match(parts.path)
        if match and int(match.group(1)) in account.instances:
            return self._answer(200, account.instances[int(match.group(1))])
        return self._answer(404, {"requestId": "x", "message": "not found"})

    def _refuse(self) -> None:
        account: Account = self.server.account
        with account.lock:
            account.received.append((self.command, urlsplit(self.path).path, {}))
        self._answer(405, {"requestId": "x", "message": "not allowed"})

    do_POST = do_PUT = do_PATCH = do_DELETE = _refuse

    def log_message(self, format, *args) -> None:
        pass


@pytest.fixture
def remote_account(settings):
    """A Cloud Elements at CLOUD_ELEMENTS_BASE_URL: a real HTTP listener on 127.0.0.1."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    server.account = Account()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    settings.CLOUD_ELEMENTS_BASE_URL = url
    try:
        yield url, server.account
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


@pytest.mark.django_db
def test_a_plain_array_without_the_header_is_the_whole_account_in_one_page(
    remote_account, settings
):
    settings.IMPORT_PAGE_SIZE = 2  # smaller than the account: the answer ignores it
    url, account = remote_account
    account.listing = [
        full_instance(101, "Sales Dropbox"),
        full_instance(102, "Legal Dropbox", tags=["legal", "eu"]),
        full_instance(103, "HR Dropbox"),
    ]
    assert ce.account() == url

    job = Job.objects.create(kind=Job.Kind.IMPORT)
    assert engine.run_job(job.pk) == "done"

    job.refresh_from_db()
    assert job.status == "done"
    assert (job.summary["pages"], job.summary["listed"], job.summary["imported"]) == (1, 3, 3)
    assert (job.total, job.skipped, job.cursor) == (3, 0, "")
    # One GET /instances (asking for pages it was not given), no second one, no sandbox check;
    # and the element's description, read once (whether it sends events).
    assert account.paths() == ["/instances", "/elements/dropbox"]
    query = account.received[0][2]
    assert query["pageSize"] == ["2"] and "nextPage" not in query
    rows = {row.remote_id: row for row in ElementInstance.objects.all()}
    assert set(rows) == {101, 102, 103}
    for row in rows.values():
        assert row.account == url
        assert row.origin == "imported" and row.status == "active"
        assert row.remote_token == f"token-{row.remote_id}-abcdefghijklmnop"
    assert rows[102].name == "Legal Dropbox"
    assert sorted(rows[102].tag_names()) == ["eu", "legal"]


@pytest.mark.django_db
def test_light_objects_are_read_one_by_one_and_one_deleted_meanwhile_is_skipped(
    remote_account,
):
    url, account = remote_account
    full = [
        full_instance(201, "Finance Dropbox"),
        full_instance(202, "Support Dropbox"),
        full_instance(203, "Gone Dropbox"),
    ]
    account.listing = [light(instance) for instance in full]
    account.instances = {201: full[0], 202: full[1]}  # 203 was deleted after the listing

    job = Job.objects.create(kind=Job.Kind.IMPORT)
    assert engine.run_job(job.pk) == "done"

    job.refresh_from_db()
    assert job.status == "done"
    assert job.summary["listed"] == 3
    assert job.summary["imported"] == 2
    assert job.skipped == 1 and job.summary["skipped"] == 1
    assert job.summary["reasons"] == [
        "“Gone Dropbox” (203): deleted at Cloud Elements while the import ran."
    ]
    # The list asked for light objects; each one was then read in full.
    assert account.received[0][2]["hydrate"] == ["false"]
    assert sorted(account.paths()[1:]) == [
        "/elements/dropbox",  # once, after the page's instances were read
        "/instances/201",
        "/instances/202",
        "/instances/203",
    ]
    rows = {row.remote_id: row for row in ElementInstance.objects.all()}
    assert set(rows) == {201, 202}
    for remote_id, row in rows.items():
        assert row.account == url
        assert row.remote_token == f"token-{remote_id}-abcdefghijklmnop"
        assert row.audit_entries.filter(action=AuditEntry.Action.IMPORTED).count() == 1
    # Nothing but GETs went to Cloud Elements.
    assert {verb for verb, _, _ in account.received} == {"GET"}
