"""Benchmark (`make bench`): what a job adds to the single action, and a worker's throughput.

Printed, never asserted on time: the cost of one instance in a sync job against one single
sync (goal ≤ 1.2×), and the instances per second one real worker (`db_worker`) syncs against
the sandbox served by the live server.
"""

from __future__ import annotations

import os
import statistics
import time

import pytest

from instances import services
from instances.jobs import engine
from instances.jobs import services as jobs
from instances.jobs.models import Job
from instances.models import ElementInstance
from tests.job_helpers import sandboxed, start_worker, worker_env

pytestmark = pytest.mark.django_db(transaction=True)
COUNT = int(os.environ.get("BENCH_JOB_INSTANCES", "1000"))


def test_a_sync_job_costs_about_a_single_sync_per_instance(sandbox_site, operator, make_instance):
    instances = sandboxed(make_instance, sandbox_site.url, COUNT)
    single = []
    for instance in instances[:100]:
        instance = ElementInstance.objects.select_related("webhook").get(pk=instance.pk)
        started = time.perf_counter()
        services.sync(instance=instance, actor=operator)
        single.append(time.perf_counter() - started)
    single_ms = statistics.fmean(single) * 1000

    job = jobs.start_job(
        kind=Job.Kind.SYNC, instances=ElementInstance.objects.all(), actor=operator
    )
    started = time.perf_counter()
    engine.run_job(job.pk)
    in_job_ms = (time.perf_counter() - started) * 1000 / COUNT

    worker_job = jobs.start_job(
        kind=Job.Kind.SYNC, instances=ElementInstance.objects.all(), actor=operator
    )
    worker = start_worker(worker_env(sandbox_site.url), "--batch")
    worker.communicate(timeout=1800)
    worker_job.refresh_from_db()
    seconds = (worker_job.finished_at - worker_job.started_at).total_seconds()

    print(
        f"\nsync job over {COUNT} instances: {in_job_ms:.1f} ms per instance in a job, "
        f"{single_ms:.1f} ms for a single sync (mean of 100): ratio {in_job_ms / single_ms:.2f}x"
        f"\nreal worker: {COUNT} instances in {seconds:.1f} s = {COUNT / seconds:.0f} instances/s"
        f" (status {worker_job.status}, {worker_job.failed} failed)"
    )
    assert worker_job.done == COUNT
