"""Benchmark (`make bench`): importing a whole Cloud Elements account through the real client
and the sandbox (served by gunicorn, as a remote service would be), then importing it again
(which finds nothing new).

Printed, never asserted on time. Goals (issue 20): at least 500 instances/s, memory that does
not grow with the account (streamed page by page, bulk inserts), and a second import in at most
a tenth of the first one's time.
"""

from __future__ import annotations

import gc
import os
import resource
import threading
import time

import pytest

from instances.jobs import engine
from instances.jobs.models import Job
from instances.models import ElementInstance
from instances.sandbox.models import SandboxInstance
from instances.sandbox.seed import seed
from tests.benchmarks.load import free_port, start_gunicorn

pytestmark = pytest.mark.django_db(transaction=True)
COUNT = int(os.environ.get("BENCH_IMPORT_INSTANCES", "100000"))


def _rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _import() -> tuple[Job, float, float]:
    """Run an import; its time, and how far resident memory rose above where it started
    (sampled every 50 ms while it ran)."""
    gc.collect()
    before = _rss_mb()
    peak = [before]
    running = threading.Event()
    running.set()

    def sample() -> None:
        while running.is_set():
            peak[0] = max(peak[0], _rss_mb())
            time.sleep(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    job = Job.objects.create(kind=Job.Kind.IMPORT)
    started = time.perf_counter()
    assert engine.run_job(job.pk) == "done"
    seconds = time.perf_counter() - started
    running.clear()
    sampler.join()
    job.refresh_from_db()
    return job, seconds, peak[0] - before


def test_importing_an_account_of_many_instances(settings, operator):
    started = time.perf_counter()
    seed(instances=COUNT)
    seeded = time.perf_counter() - started
    assert SandboxInstance.objects.count() == COUNT
    # Cloud Elements is another service: the sandbox is served by gunicorn in processes of its
    # own (as the load run serves it), on this test's database, and reached over loopback.
    port = free_port()
    server = start_gunicorn(port)
    settings.CLOUD_ELEMENTS_BASE_URL = f"http://127.0.0.1:{port}/sandbox/elements/api-v2"
    settings.CLOUD_ELEMENTS_USER_SECRET = "bench-user"
    settings.CLOUD_ELEMENTS_ORGANIZATION_SECRET = "bench-org"
    try:
        first, first_s, first_mb = _import()
        second, second_s, second_mb = _import()
    finally:
        server.terminate()
        server.wait()

    assert first.summary["imported"] == COUNT == ElementInstance.objects.count()
    assert second.summary["imported"] == 0 and second.summary["known"] == COUNT
    assert second.summary["changed"] == 0
    print(
        f"\nimport of {COUNT} instances (sandbox seeded in {seeded:.0f} s), pages of "
        f"{first.summary['pages'] and COUNT // first.summary['pages']}:"
        f"\n  first import:  {first_s:.1f} s = {COUNT / first_s:.0f} instances/s, "
        f"peak resident memory +{first_mb:.0f} MB"
        f"\n  second import: {second_s:.1f} s = {second_s / first_s:.2f} of the first "
        f"(nothing new), peak resident memory +{second_mb:.0f} MB"
    )
