"""An import stopped half-way resumes from its page; two imports at once import each instance
once; an import only ever reads from Cloud Elements.

Against the sandbox over real HTTP. Faults are injected at the seam the scan calls
(`scan.ce.list_instance_page`), and the interleaving of two imports at the seam where a page's
new rows are inserted (`scan._Scan._insert`).
"""

from __future__ import annotations

import logging
import threading

import pytest
from django.db import connection

from instances.cloud_elements import client as ce
from instances.imports import scan
from instances.jobs import engine
from instances.jobs.models import Job
from instances.models import AuditEntry, ElementInstance
from instances.sandbox.models import SandboxInstance
from instances.sandbox.seed import seed
from tests.instances.lifecycle_helpers import live

CLIENT_LOGGER = "instances.cloud_elements.client"
Action = AuditEntry.Action


class Pages:
    """Wraps `ce.list_instance_page` as the scan calls it: records each call's token, and raises
    a server error on the calls numbered in `fail_on` (1-based, counted since `reset`)."""

    def __init__(self, monkeypatch) -> None:
        self.tokens: list[str] = []
        self.fail_on: set[int] = set()
        real = ce.list_instance_page

        def list_instance_page(**kwargs) -> ce.InstancePage:
            self.tokens.append(kwargs.get("next_page", ""))
            if len(self.tokens) in self.fail_on:
                raise ce.CloudElementsServerError()
            return real(**kwargs)

        monkeypatch.setattr(scan.ce, "list_instance_page", list_instance_page)

    def reset(self) -> None:
        self.tokens = []
        self.fail_on = set()


def _imported_once_each() -> None:
    """Every local row is a distinct remote instance with exactly one IMPORTED entry."""
    rows = list(ElementInstance.objects.values_list("pk", "remote_id"))
    assert len({remote_id for _, remote_id in rows}) == len(rows)
    for pk, _ in rows:
        assert AuditEntry.objects.filter(instance_id=pk, action=Action.IMPORTED).count() == 1


# --- Failure half-way, then Resume ---------------------------------------------------------------


@live
def test_an_import_stopped_half_way_resumes_from_its_page(sandbox_site, settings, monkeypatch):
    settings.IMPORT_PAGE_SIZE = 3
    seed(instances=10)
    remote_ids = set(SandboxInstance.objects.values_list("id", flat=True))
    pages = Pages(monkeypatch)
    pages.fail_on = {3}

    job = Job.objects.create(kind=Job.Kind.IMPORT)
    assert engine.run_job(job.pk) == "failed"

    job.refresh_from_db()
    assert job.status == "failed"
    assert "Stopped at page 3" in job.error and "Resume" in job.error
    assert ce.CloudElementsServerError.default_message in job.error
    assert ElementInstance.objects.count() == 6  # pages 1 and 2 are kept
    first_rows = dict(ElementInstance.objects.values_list("remote_id", "pk"))
    saved_cursor = job.cursor  # where page 3 starts
    assert saved_cursor and pages.tokens[2] == saved_cursor
    assert (job.summary["pages"], job.summary["imported"]) == (2, 6)

    pages.reset()
    resumed = scan.resume(job=job)
    assert (resumed.status, resumed.error, resumed.cursor) == ("queued", "", saved_cursor)
    # The database task backend only queues: this test is the worker.
    assert engine.run_job(job.pk) == "done"

    job.refresh_from_db()
    assert (job.status, job.error, job.cursor) == ("done", "", "")
    # Pages 1 and 2 were not read again: the first call carried the saved token.
    assert len(pages.tokens) == 2
    assert pages.tokens[0] == saved_cursor
    assert job.summary["pages"] == 4
    assert (job.summary["listed"], job.summary["imported"], job.summary["known"]) == (10, 10, 0)
    assert (job.total, job.skipped) == (10, 0)
    assert set(ElementInstance.objects.values_list("remote_id", flat=True)) == remote_ids
    assert ElementInstance.objects.count() == 10
    # The rows of the first run are the same rows, not made again.
    for remote_id, pk in first_rows.items():
        assert ElementInstance.objects.get(remote_id=remote_id).pk == pk
    _imported_once_each()

    with pytest.raises(scan.ScanError, match="nothing to resume"):
        scan.resume(job=job)


# --- Two imports at once -------------------------------------------------------------------------


def _two_jobs() -> tuple[Job, Job]:
    return Job.objects.create(kind=Job.Kind.IMPORT), Job.objects.create(kind=Job.Kind.IMPORT)


@live
def test_an_import_overtaken_by_another_counts_its_rows_as_known(
    sandbox_site, settings, monkeypatch
):
    """A reads page 1 (all new), then B runs to the end, then A inserts page 1."""
    settings.IMPORT_PAGE_SIZE = 4
    seed(instances=10)
    a, b = _two_jobs()
    real_insert = scan._Scan._insert
    overtaken: list[str] = []

    def insert(self, new):
        if self.job.pk == a.pk and not overtaken:
            overtaken.append(engine.run_job(b.pk))
        return real_insert(self, new)

    monkeypatch.setattr(scan._Scan, "_insert", insert)
    assert engine.run_job(a.pk) == "done"
    assert overtaken == ["done"]

    a.refresh_from_db()
    b.refresh_from_db()
    assert ElementInstance.objects.count() == SandboxInstance.objects.count() == 10
    assert (b.summary["imported"], b.summary["known"]) == (10, 0)
    # A took page 1 for new, but B had inserted it: known, not imported; the rest A saw known.
    assert (a.summary["imported"], a.summary["known"], a.summary["listed"]) == (0, 10, 10)
    assert (a.status, b.status) == ("done", "done")
    _imported_once_each()
    details = set(
        AuditEntry.objects.filter(action=Action.IMPORTED).values_list("detail", flat=True)
    )
    assert details == {f"Imported from Cloud Elements by job {b.pk}."}


if connection.vendor == "postgresql":  # two writers at once: SQLite serialises them anyway

    @live
    def test_two_imports_racing_in_two_threads_import_each_instance_once(
        sandbox_site, settings, monkeypatch
    ):
        settings.IMPORT_PAGE_SIZE = 4
        seed(instances=10)
        a, b = _two_jobs()
        # Both jobs have read page 1 as new before either inserts it.
        both_read = threading.Barrier(2, timeout=30)
        waited: set[int] = set()
        lock = threading.Lock()
        real_insert = scan._Scan._insert

        def insert(self, new):
            with lock:
                first = self.job.pk not in waited
                waited.add(self.job.pk)
            if first:
                both_read.wait()
            return real_insert(self, new)

        monkeypatch.setattr(scan._Scan, "_insert", insert)
        outcomes: dict[int, str] = {}
        errors: list[BaseException] = []

        def run(job_id: int) -> None:
            try:
                outcomes[job_id] = engine.run_job(job_id)
            except BaseException as error:  # noqa: BLE001 (reported by the test below)
                errors.append(error)
            finally:
                connection.close()

        threads = [threading.Thread(target=run, args=(job.pk,)) for job in (a, b)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)

        assert not any(thread.is_alive() for thread in threads)
        assert errors == []
        assert outcomes == {a.pk: "done", b.pk: "done"}
        a.refresh_from_db()
        b.refresh_from_db()
        assert ElementInstance.objects.count() == SandboxInstance.objects.count() == 10
        assert a.summary["imported"] + b.summary["imported"] == 10
        for job in (a, b):
            assert job.summary["listed"] == 10
            assert job.summary["imported"] + job.summary["known"] == 10
        _imported_once_each()


# --- Nothing but GETs ----------------------------------------------------------------------------


@live
def test_an_import_only_reads_from_cloud_elements(sandbox_site, settings, monkeypatch, caplog):
    """Pages, drift, an instance deleted there: all read with GETs; the sandbox is unchanged."""
    settings.IMPORT_PAGE_SIZE = 2
    seed(instances=5)
    first = Job.objects.create(kind=Job.Kind.IMPORT)
    assert engine.run_job(first.pk) == "done"
    # Meanwhile at Cloud Elements: one deleted, one renamed, two made.
    gone, renamed = SandboxInstance.objects.order_by("id")[:2]
    gone_id = gone.id
    gone.delete()
    renamed.name = "Renamed at Cloud Elements"
    renamed.save()
    seed(instances=2, seed=21)

    def state() -> list[tuple]:
        return [
            (
                row.id,
                row.name,
                row.tags,
                row.valid,
                row.disabled,
                row.token,
                row.full_configuration(),
            )
            for row in SandboxInstance.objects.order_by("id")
        ]

    before = state()
    methods: list[str] = []
    real_request = ce._request_with_headers

    def request_with_headers(method, path, **kwargs):
        methods.append(method)
        return real_request(method, path, **kwargs)

    monkeypatch.setattr(ce, "_request_with_headers", request_with_headers)
    caplog.set_level(logging.INFO, logger=CLIENT_LOGGER)
    caplog.clear()

    second = Job.objects.create(kind=Job.Kind.IMPORT)
    assert engine.run_job(second.pk) == "done"

    second.refresh_from_db()
    summary = second.summary
    assert (summary["listed"], summary["imported"], summary["known"]) == (6, 2, 4)
    assert (summary["changed"], summary["deleted"], summary["pages"]) == (1, 1, 3)
    missing = ElementInstance.objects.get(remote_id=gone_id)
    assert missing.remote_missing
    assert missing.audit_entries.filter(action=Action.DELETED_REMOTELY).count() == 1

    lines = [r.getMessage() for r in caplog.records if r.name == CLIENT_LOGGER]
    calls = [line for line in lines if line.startswith("cloud_elements ")]
    assert len(calls) >= 4  # three pages and the deleted one's confirmation
    assert all(line.startswith("cloud_elements GET ") for line in calls), calls
    assert any(line.startswith(f"cloud_elements GET /instances/{gone_id} -> 404") for line in calls)
    assert methods and set(methods) == {"GET"}
    assert state() == before
