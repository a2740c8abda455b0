"""The account scan: read every instance of the Cloud Elements account, page by page.

One pass serves the import (an operator's job: every instance not known here becomes a local
row) and the scheduled discovery (new instances imported or listed for review, drift noticed,
instances deleted there marked). Nothing is ever sent to Cloud Elements but GETs.

Each page is one transaction: its new rows (bulk inserts that skip an instance a concurrent scan
inserted first), the seen-stamp of the known ones and the job's cursor. A scan stopped by a
remote failure keeps what it imported and resumes from the page it had reached.
"""

from __future__ import annotations

import logging
import time
from array import array
from bisect import bisect_left
from concurrent.futures import ThreadPoolExecutor

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from instances import services, snapshots
from instances.cloud_elements import client as ce
from instances.elements.services import ElementUnavailable, element_spec
from instances.imports import rows
from instances.imports.models import DiscoveredInstance
from instances.jobs import engine
from instances.jobs import services as jobs
from instances.jobs.models import Job
from instances.models import AuditEntry, ElementInstance

logger = logging.getLogger(__name__)

Status = ElementInstance.Status
Action = AuditEntry.Action
# Reasons for skipped instances kept on the job (the count is exact; the list is a sample).
MAX_REASONS = 200
# New instances of a page read one by one (GET /instances/{id}) when the listing gave light
# objects; past this many, the page is read again hydrated.
FEW_TO_READ_ONE_BY_ONE = 10
# A page that wrote nothing records the progress at most this often.
PROGRESS_SECONDS = 2.0
SUMMARY_KEYS = ("listed", "imported", "known", "new", "changed", "skipped", "deleted", "pages")


class ScanStopped(Exception):
    """The job was cancelled or taken over by another worker."""


def run_scan(job: Job) -> str:
    """The job engine's runner for IMPORT and DISCOVER jobs (see apps.py)."""
    import_new = job.kind == Job.Kind.IMPORT or settings.IMPORT_NEW_INSTANCES == "auto"
    scan = _Scan(job, import_new=import_new)
    cursor = job.cursor
    # The next page is read while this one is taken (one page ahead, no more): Cloud Elements'
    # answer time and ours overlap, and memory holds two pages at most.
    ahead = ThreadPoolExecutor(max_workers=1, thread_name_prefix="scan-page")
    try:
        coming = ahead.submit(_read_page, cursor)
        while True:
            try:
                page = coming.result()
                if page.next_page:
                    coming = ahead.submit(_read_page, page.next_page)
                scan.take(page, cursor)
            except ce.CloudElementsError as error:
                return _stop(job, scan, error)
            cursor = page.next_page
            if not cursor:
                break
            scan.save_progress(cursor=cursor, every=PROGRESS_SECONDS)
        scan.mark_deleted()
    except ScanStopped:
        return "stopped"
    finally:
        ahead.shutdown(wait=False, cancel_futures=True)
    Job.objects.filter(pk=job.pk, status=Job.Status.RUNNING, attempts=job.attempts).update(
        status=Job.Status.DONE,
        finished_at=timezone.now(),
        lease_expires_at=None,
        cursor="",
        error="",
        summary={**scan.summary, "reasons": scan.reasons},
        total=scan.summary["listed"],
        done=scan.summary["listed"],
        skipped=scan.summary["skipped"],
    )
    logger.info("Scan %s of %s done: %s", job.pk, ce.account(), scan.summary)
    return "done"


def _read_page(token: str) -> ce.InstancePage:
    return ce.list_instance_page(page_size=settings.IMPORT_PAGE_SIZE, next_page=token)


def _stop(job: Job, scan: _Scan, error: ce.CloudElementsError) -> str:
    """A remote failure: keep what was done, say where the scan stopped, let it be resumed."""
    page = scan.summary["pages"] + 1
    message = (
        f"Stopped at page {page}: {error.message} What was imported is kept; Resume goes on "
        "from this page."
    )
    Job.objects.filter(pk=job.pk, status=Job.Status.RUNNING, attempts=job.attempts).update(
        status=Job.Status.FAILED,
        finished_at=timezone.now(),
        lease_expires_at=None,
        error=message[:2000],
    )  # the counts stay those saved with the cursor, from which a resume goes on
    logger.warning("Scan %s stopped at page %s: %s", job.pk, page, error.message)
    return "failed"


class _Scan:
    def __init__(self, job: Job, *, import_new: bool) -> None:
        self.job = job
        self.import_new = import_new
        self.account = ce.account()
        # Every instance a finished scan did not see since it began is gone at Cloud Elements.
        self.started = job.started_at or timezone.now()
        self.summary = {key: int(job.summary.get(key, 0)) for key in SUMMARY_KEYS}
        self.reasons: list[str] = list(job.summary.get("reasons", []))
        self.tags: dict[str, int] = {}
        # The remote ids this run listed, sorted at the end (8 bytes each: 8 MB for a million).
        # A run resumed after a stop has not seen the pages before it, so it marks no deletion.
        self.seen = array("q")
        self.resumed = bool(job.cursor) or job.attempts > 1
        self.saved_at = time.monotonic()
        self.elements_read: set[str] = set()

    # --- One page ----------------------------------------------------------------------------

    def take(self, page: ce.InstancePage, token: str) -> None:
        listed = {remote.id: remote for remote in page.instances}
        self.seen.extend(listed)
        self.summary["listed"] += len(listed)
        for _ in range(page.unreadable):
            self._skip("An entry without a usable id was left out.")
        known = _fingerprints(self.account, listed)
        self.summary["known"] += len(known)
        changed = [
            r for r in listed.values() if r.id in known and known[r.id] != snapshots.fingerprint(r)
        ]
        new = [r for r in listed.values() if r.id not in known]
        if new and self.import_new:
            new = self._complete(new, token)
            self._read_elements(new)
        self.summary["pages"] += 1
        if not (changed or new):
            return
        # What the page wrote and the progress past it commit together: a stop never counts
        # a page twice nor loses one.
        with transaction.atomic():
            if changed:
                self._apply_changes(changed)
            if new and self.import_new:
                self._insert(new)
            elif new:
                self._list_new(new)
            self.save_progress(cursor=page.next_page)

    def _read_elements(self, new: list[ce.Instance]) -> None:
        """Read each new element's description once per run, outside the page's transaction,
        so that its rows know whether it sends events (rows.insert reads what is kept)."""
        for key in {r.element_key for r in new if r.element_key} - self.elements_read:
            self.elements_read.add(key)
            try:
                element_spec(key)
            except ElementUnavailable as error:
                logger.warning("import: element %s not described (%s)", key, error.message)

    def _complete(self, new: list[ce.Instance], token: str) -> list[ce.Instance]:
        """Light objects lack the token or the configuration: read those instances whole.

        A few are read one by one (`GET /instances/{id}`); many, by reading their page again
        hydrated (one request instead of hundreds), then one by one what that page lacked.
        """
        light = [remote for remote in new if not remote.complete]
        full = {remote.id: remote for remote in new if remote.complete}
        if len(light) > FEW_TO_READ_ONE_BY_ONE:
            page = ce.list_instance_page(
                page_size=settings.IMPORT_PAGE_SIZE, next_page=token, hydrate=True
            )
            wanted = {remote.id for remote in light}
            full.update(
                (remote.id, remote)
                for remote in page.instances
                if remote.id in wanted and remote.complete
            )
        for remote in light:
            if remote.id in full:
                continue
            try:
                full[remote.id] = ce.get_instance(remote.id)
            except ce.CloudElementsNotFoundError:
                self._skip(
                    f"“{remote.name}” ({remote.id}): deleted at Cloud Elements while the "
                    "import ran."
                )
        return [full[remote.id] for remote in new if remote.id in full]

    def _insert(self, new: list[ce.Instance]) -> None:
        detail = f"Imported from Cloud Elements by job {self.job.pk}."
        ours = rows.insert(new, actor=self.job.created_by, detail=detail, tag_ids=self.tags)
        self.summary["imported"] += len(ours)
        self.summary["known"] += len(new) - len(ours)

    def _list_new(self, new: list[ce.Instance]) -> None:
        now = timezone.now()
        for remote in new:
            DiscoveredInstance.objects.update_or_create(
                account=self.account,
                remote_id=remote.id,
                defaults={
                    "name": (remote.name or f"Instance {remote.id}")[:200],
                    "element_key": remote.element_key[:64],
                    "tags": remote.tags,
                    "valid": remote.valid,
                    "disabled": remote.disabled,
                    "remote_created_at": rows.created_at(remote),
                    "seen_at": now,
                },
            )
        self.summary["new"] += len(new)

    def _apply_changes(self, changed: list[ce.Instance]) -> None:
        """Valid and disabled are Cloud Elements' to say; names, tags and events differing
        from here are drift: recorded and shown, never taken silently."""
        changed_here = (
            ElementInstance.objects.filter(
                account=self.account, remote_id__in=[r.id for r in changed]
            )
            .exclude(status=Status.DELETED)
            .select_related("webhook")
            .prefetch_related("tags")
        )
        remote_by_id = {r.id: r for r in changed}
        for instance in changed_here:
            remote = remote_by_id[instance.remote_id]
            was_drifted = instance.drifted
            instance.remote_valid = remote.valid
            instance.remote_disabled = remote.disabled
            instance.remote_missing = False
            fields = snapshots.record(instance, remote)
            instance.save(
                update_fields=[
                    *fields,
                    "remote_valid",
                    "remote_disabled",
                    "remote_missing",
                    "updated_at",
                ]
            )
            if instance.drifted and not was_drifted:
                names = ", ".join(row["label"].lower() for row in snapshots.drift(instance))
                services.record(
                    instance, Action.DRIFTED, detail=f"Changed at Cloud Elements: {names}."
                )
            self.summary["changed"] += 1

    def _skip(self, reason: str) -> None:
        self.summary["skipped"] += 1
        if len(self.reasons) < MAX_REASONS:
            self.reasons.append(reason)

    def save_progress(self, *, cursor: str, every: float = 0) -> None:
        """Record the cursor and counts (and renew the lease); with `every`, at most that often:
        a page that wrote nothing may be read again after a stop at no cost."""
        if every and time.monotonic() - self.saved_at < every:
            return
        self.saved_at = time.monotonic()
        self.elements_read: set[str] = set()
        summary = {**self.summary, "reasons": self.reasons}
        if not engine.keep_going(
            self.job,
            cursor=cursor,
            summary=summary,
            total=self.summary["listed"],
            done=self.summary["listed"],
            skipped=self.summary["skipped"],
        ):
            raise ScanStopped

    # --- After the last page -----------------------------------------------------------------

    def mark_deleted(self) -> None:
        """Instances here that this whole scan did not list are confirmed one by one (a GET),
        then marked deleted at Cloud Elements. Instances made here since the scan began are
        not expected in its listing."""
        if self.resumed:
            self.summary["deletions_unchecked"] = 1
            return
        seen = array("q", sorted(self.seen))
        here = (
            ElementInstance.objects.filter(
                account=self.account,
                status=Status.ACTIVE,
                remote_id__isnull=False,
                remote_missing=False,
                created_at__lt=self.started,
            )
            .order_by("pk")
            .values_list("pk", "remote_id")
        )
        last = 0
        while batch := list(here.filter(pk__gt=last)[:5000]):
            last = batch[-1][0]
            for pk, remote_id in batch:
                if not _contains(seen, remote_id):
                    self._confirm_gone(ElementInstance.objects.get(pk=pk))
            if not engine.keep_going(self.job):
                raise ScanStopped
        DiscoveredInstance.objects.filter(account=self.account, seen_at__lt=self.started).delete()

    def _confirm_gone(self, instance: ElementInstance) -> None:
        try:
            ce.get_instance(instance.remote_id)
        except ce.CloudElementsNotFoundError:
            pass
        except ce.CloudElementsError:
            return  # not confirmed: the next scan asks again
        else:
            return  # listed late (made while the scan ran), or the listing left it out
        message = (
            f"Cloud Elements has no instance {instance.remote_id} any more. It is kept here with "
            "its history."
        )
        ElementInstance.objects.filter(pk=instance.pk).update(
            remote_missing=True,
            last_error=message,
            synced_at=timezone.now(),
            updated_at=timezone.now(),
        )
        services.record(
            instance, Action.DELETED_REMOTELY, outcome=AuditEntry.Outcome.FAILURE, detail=message
        )
        self.summary["deleted"] += 1


def _fingerprints(account: str, ids) -> dict[int, str]:
    """{remote id: fingerprint} of those of `ids` known here. Ids that come in a dense run (as
    pages in id order do) are read as a range: one index range instead of hundreds of
    parameters (a fifth of the time); scattered ids by a plain IN."""
    if not ids:
        return {}
    low, high = min(ids), max(ids)
    here = ElementInstance.objects.filter(account=account)
    if high - low < 2 * len(ids):
        matching = here.filter(remote_id__gte=low, remote_id__lte=high)
    else:
        matching = here.filter(remote_id__in=list(ids))
    found = matching.values_list("remote_id", "remote_fingerprint")
    return {remote_id: digest for remote_id, digest in found if remote_id in ids}


def _contains(sorted_ids: array, value: int) -> bool:
    at = bisect_left(sorted_ids, value)
    return at < len(sorted_ids) and sorted_ids[at] == value


# --- Starting and resuming ----------------------------------------------------------------------

SCAN_KINDS = (Job.Kind.IMPORT, Job.Kind.DISCOVER)


class ScanError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def running_scan() -> Job | None:
    return (
        Job.objects.filter(kind__in=SCAN_KINDS, status__in=[Job.Status.QUEUED, Job.Status.RUNNING])
        .order_by("-created_at")
        .first()
    )


def start(*, kind: str = Job.Kind.IMPORT, actor=None, enqueue: bool = True) -> Job:
    """Queue a scan of the account, or answer the one already queued or running.

    `enqueue=False` leaves the job for the caller to run (the import command runs it itself).
    """
    running = running_scan()
    if running is not None:
        return running
    with transaction.atomic():
        job = Job.objects.create(
            kind=kind, created_by=actor if getattr(actor, "is_authenticated", False) else None
        )
        if enqueue:
            transaction.on_commit(lambda: jobs.enqueue(job))
    return job


def resume(*, job: Job) -> Job:
    """Queue a stopped scan again: it goes on from the page where it stopped."""
    if job.kind not in SCAN_KINDS:
        raise ScanError("Only an import or a discovery can be resumed.")
    changed = Job.objects.filter(pk=job.pk, status=Job.Status.FAILED).update(
        status=Job.Status.QUEUED, finished_at=None, error="", attempts=0
    )
    if not changed:
        raise ScanError("This job has not stopped, so there is nothing to resume.")
    jobs.enqueue(job)
    job.refresh_from_db()
    return job


# The list says "N new at Cloud Elements" up to this many ("1000+" past it).
NEW_COUNT_CAP = 1_000


def count_new() -> int:
    """Instances the scan listed for review (a capped count: constant cost)."""
    found = DiscoveredInstance.objects.filter(account=ce.account())
    return found.order_by().values("pk")[:NEW_COUNT_CAP].count()
