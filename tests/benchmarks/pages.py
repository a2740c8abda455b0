"""Every page the benchmark measures, and how: queries and median time, small and large data
alternating."""

from __future__ import annotations

import statistics
import time

from django.db import connection
from django.test.utils import CaptureQueriesContext

from instances.models import ElementInstance
from tests.benchmarks.seeding import HOT, use

ROUNDS = 15
ADMIN_INSTANCES = "/admin/instances/elementinstance/"
ADMIN_EVENTS = "/admin/events/eventnotification/"


def deepest_admin_page(client, url: str) -> str:
    """The last page the admin's paginator links to."""
    return f"{url}?p={client.get(url).context['cl'].paginator.num_pages}"


def pages(client) -> dict[str, str]:
    hot = ElementInstance.objects.get(pk=HOT)
    detail = hot.get_absolute_url()
    event = hot.events.order_by("-received_at", "-id").values_list("pk", flat=True)[0]
    return {
        "/instances/ first page": "/instances/",
        "/instances/?q=acme": "/instances/?q=acme",
        "/instances/?q=<remote id>": "/instances/?q=1000500",
        "/instances/?q=dropbox (every name)": "/instances/?q=dropbox",
        "/instances/?q=team-3 (a tag)": "/instances/?q=team-3",
        "/instances/?tag=team-3": "/instances/?tag=team-3",
        "/instances/?status=failed&events=on": "/instances/?status=failed&events=on",
        "/instances/ oldest page": "/instances/?oldest=1",
        "/instances/?remote=drifted": "/instances/?remote=drifted",
        "/instances/?remote=deleted": "/instances/?remote=deleted",
        "/instances/?origin=imported": "/instances/?origin=imported",
        "/instances/new-at-cloud-elements/": "/instances/new-at-cloud-elements/",
        "/instances/attention/": "/instances/attention/",
        "/instances/?problem=invalid": "/instances/?problem=invalid",
        "/instances/incidents/": "/instances/incidents/",
        "admin instances, first page": ADMIN_INSTANCES,
        "admin instances ?q=acme": ADMIN_INSTANCES + "?q=acme",
        "admin instances, tag+status": ADMIN_INSTANCES + "?tag=team-3&status__exact=active",
        "admin instances, deepest page": deepest_admin_page(client, ADMIN_INSTANCES),
        "instance page (hot)": detail,
        "instance page, oldest events": detail + "?events_oldest=1",
        "admin event list": ADMIN_EVENTS,
        "admin events ?event_type=DELETED": ADMIN_EVENTS + "?event_type=DELETED",
        "admin events, deepest page": deepest_admin_page(client, ADMIN_EVENTS),
        "admin events ?q=acme (instances' names)": ADMIN_EVENTS + "?q=acme",
        "admin events ?q=report.pdf (no match)": ADMIN_EVENTS + "?q=report.pdf",
        "event page": f"{detail}events/{event}/",
    }


def timed(client, url: str) -> float:
    started = time.perf_counter()
    assert client.get(url).status_code == 200, url
    return (time.perf_counter() - started) * 1000


def query_count(client, url: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200, url
    return len(queries)


def measure_interleaved(client) -> dict[str, dict]:
    """Per page: queries and median time on each data set, rounds alternating small/large."""
    urls = {}
    for schema in ("bench_small", "bench_large"):
        use(schema)
        urls[schema] = pages(client)
    results = {}
    for name in urls["bench_small"]:
        samples: dict[str, list[float]] = {"bench_small": [], "bench_large": []}
        counts = {}
        for schema in samples:
            use(schema)
            timed(client, urls[schema][name])  # warm caches
            counts[schema] = query_count(client, urls[schema][name])
        for _ in range(ROUNDS):
            for schema in samples:
                use(schema)
                samples[schema].append(timed(client, urls[schema][name]))
        results[name] = {
            "queries": (counts["bench_small"], counts["bench_large"]),
            "ms": tuple(statistics.median(samples[s]) for s in samples),
        }
    return results
