"""A rate-limited instance waits as Cloud Elements asks and is retried, up to a limit.

A 429 or 503 raises the client's rate-limit error with the `Retry-After` seconds; a job item
so refused waits and is retried until it succeeds, or fails once `JOB_RATE_LIMIT_RETRIES` is
spent.
"""

from __future__ import annotations

import pytest
import requests

from instances.cloud_elements import client as cloud_elements
from instances.jobs import engine
from instances.jobs import services as jobs
from instances.jobs.models import Job, JobItem
from tests.job_helpers import sandboxed
from tests.jobs.support import live


@live
def test_a_rate_limited_instance_waits_and_is_retried(
    sandbox_site, operator, make_instance, monkeypatch, settings
):
    [instance] = sandboxed(make_instance, sandbox_site.url, 1)
    real = cloud_elements.update_instance
    refusals = []

    def update_instance(instance_id, changes):
        if len(refusals) < 2:
            refusals.append(instance_id)
            raise cloud_elements.CloudElementsRateLimitedError(status=429, retry_after=0.05)
        return real(instance_id, changes)

    monkeypatch.setattr(cloud_elements, "update_instance", update_instance)
    job = jobs.start_job(kind=Job.Kind.EVENTS_ON, instances=[instance.pk], actor=operator)
    engine.run_job(job.pk)

    assert job.items.get().status == JobItem.Status.OK
    assert len(refusals) == 2
    settings.JOB_RATE_LIMIT_RETRIES = 0
    refusals.clear()
    second = jobs.start_job(kind=Job.Kind.EVENTS_OFF, instances=[instance.pk], actor=operator)
    engine.run_job(second.pk)
    assert second.items.get().status == JobItem.Status.FAILED


def test_429_and_503_carry_retry_after():
    def answer(status: int, retry_after: str) -> requests.Response:
        response = requests.Response()
        response.status_code = status
        response.headers["Retry-After"] = retry_after
        response._content = b'{"message": "slow down"}'
        return response

    with pytest.raises(cloud_elements.CloudElementsRateLimitedError) as error:
        cloud_elements._parse(answer(429, "7"))
    assert (error.value.retry_after, error.value.ambiguous) == (7.0, False)
    assert "slow down" in error.value.message
    with pytest.raises(cloud_elements.CloudElementsRateLimitedError) as error:
        cloud_elements._parse(answer(503, "Wed, 21 Oct 2015 07:28:00 GMT"))
    assert (error.value.retry_after, error.value.ambiguous) == (0.0, True)
