"""`make bench`: every page and the receiver, small data → large data, on PostgreSQL. Printed,
never asserted on time.

Seeds (with SQL, INSERT … SELECT generate_series) a small data set — 1,000 instances, 10,000
events, the "hot" instance with 100 — and a large one — 100,000 instances, 1,000,000 events,
the hot instance with 100,000 — each in a schema of its own, then measures every page on
both, alternating, and prints per page: queries small → large, median time small → large,
ratio. Then a load run (wrk against gunicorn, 2
workers, DEBUG=false, on loopback): requests/s of signed deliveries vs /healthz in the same
run, the receiver's round trips, and the workers' memory across 20,000 deliveries.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from instances.events import ingest
from instances.events.signatures import sign
from instances.lib.fields import encrypt
from instances.models import ElementInstance
from tests.roundtrips import counting_round_trips

if connection.vendor != "postgresql":
    pytest.exit(
        "make bench measures PostgreSQL only: set DATABASE_URL=postgres://user@host:5432/name "
        "(the Makefile's default is postgres://postgres@127.0.0.1:5432/ce_dashboard_bench).",
        returncode=2,
    )

pytestmark = pytest.mark.django_db(transaction=True)

ROUNDS = 15
# As README's deployment section runs it, with 2 workers (this machine has 2 cores).
GUNICORN = "gunicorn --workers 2 --threads 4"
STATIC_ROOT = tempfile.TemporaryDirectory()
HOT = 1  # the instance with 100 → 100,000 events
RECEIVER = 2  # the instance the load run delivers to
SIGNATURE_KEY = "bench-signature-key"
SMALL = {"instances": 1_000, "events": 10_000, "hot_events": 100}
LARGE = {"instances": 100_000, "events": 1_000_000, "hot_events": 100_000}
TAGS = 20
ADMIN_INSTANCES = "/admin/instances/elementinstance/"
ADMIN_EVENTS = "/admin/instances/eventnotification/"
BODY = json.dumps(
    {
        "message": {
            "eventId": "bench",
            "events": [{"eventType": "CREATED", "objectType": "file", "objectId": "/a.txt"}],
        }
    }
)


# --- Seeding --------------------------------------------------------------------------------------


def execute(sql: str, params=None) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params or [])


def seed_instances(first: int, last: int) -> None:
    """Instances first..last (ids), with webhook settings and one or two of TAGS tags.

    One name in 16 says "Acme" and one instance in 10 has failed, so that the searched and
    filtered pages are full pages on the small data set too: a ratio then compares the same
    page drawn from 1,000 or 100,000 rows, not 10 rows with 50.
    """
    secret, token, key = encrypt("bench-app-secret"), encrypt("bench-token"), encrypt(SIGNATURE_KEY)
    execute(
        """
        INSERT INTO instances_elementinstance (
            id, uuid, element_key, name, authentication_type, oauth_api_key, oauth_api_secret,
            oauth_callback_url, api_key, status, remote_id, remote_token, remote_valid,
            remote_disabled, remote_missing, last_error, last_error_request_id,
            created_at, updated_at)
        SELECT g, md5('bench' || g)::uuid, 'dropbox',
               CASE WHEN g %% 16 = 7 THEN 'Acme ' ELSE 'Customer ' END || g || ' Dropbox',
               'oauth2', 'bench-app', %s, '', '',
               CASE WHEN g %% 50 = 10 THEN 'draft' WHEN g %% 10 = 1 THEN 'failed'
                    WHEN g %% 97 = 13 THEN 'deleted' ELSE 'active' END,
               1000000 + g, %s, true, false, false, '', '',
               timestamptz '2026-01-01' + g * interval '2 minutes',
               timestamptz '2026-01-01' + g * interval '2 minutes'
        FROM generate_series(%s, %s) AS g
        """,
        [secret, token, first, last],
    )
    execute(
        """
        INSERT INTO instances_webhooksettings (
            instance_id, enabled, callback_url, signature_key, previous_signature_key)
        SELECT g, g %% 3 <> 0, '', %s, '' FROM generate_series(%s, %s) AS g
        """,
        [key, first, last],
    )
    execute(
        """
        INSERT INTO instances_elementinstance_tags (elementinstance_id, tag_id)
        SELECT g, t FROM generate_series(%s, %s) AS g,
             LATERAL (VALUES (g %% %s + 1), ((g * 7) %% %s + 1)) AS tags(t)
        ON CONFLICT DO NOTHING
        """,
        [first, last, TAGS, TAGS],
    )
    for table in ("instances_elementinstance", "instances_webhooksettings"):
        execute(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"
        )


def seed_events(first: int, last: int, *, instances: int, hot_first: int, hot_last: int) -> None:
    """Events with serials first..last spread over instances 2..instances (deleted ones too),
    and serials hot_first..hot_last on the hot instance, one every 20 seconds back from now."""
    columns = """instance_id, dedup_key, remote_event_id, webhook_id, signature, event_type,
                 object_type, object_id, events, body, received_at"""
    events = json.dumps(json.loads(BODY)["message"]["events"])
    execute(
        f"""
        INSERT INTO instances_eventnotification ({columns})
        SELECT 2 + g %% (%s - 1), 'event:bench-' || g, 'bench-' || g, '', 'verified',
               (ARRAY['CREATED','UPDATED','DELETED'])[1 + g %% 3], 'file', '/files/' || g,
               %s::jsonb, %s, now() - (g %% 86400) * interval '1 minute'
        FROM generate_series(%s, %s) AS g
        """,
        [instances, events, BODY, first, last],
    )
    execute(
        f"""
        INSERT INTO instances_eventnotification ({columns})
        SELECT %s, 'event:bench-' || g, 'bench-' || g, '', 'verified', 'UPDATED', 'file',
               '/hot/' || g, %s::jsonb, %s, now() - g * interval '20 seconds'
        FROM generate_series(%s, %s) AS g
        """,
        [HOT, events, BODY, hot_first, hot_last],
    )


def rebuild_rollup() -> None:
    # As the migration's backfill does, in one statement.
    execute("DELETE FROM instances_eventdailycount")
    execute(
        """
        INSERT INTO instances_eventdailycount (instance_id, day, count, last_received_at)
        SELECT instance_id, (received_at AT TIME ZONE %s)::date, count(*), max(received_at)
        FROM instances_eventnotification GROUP BY 1, 2
        """,
        [settings.TIME_ZONE],
    )
    execute("ANALYZE")


# Each data set lives in a schema of its own, with copies of the app's tables (indexes
# included); users and sessions stay in `public`. Switching `search_path` switches data sets,
# so that small and large are measured interleaved, in one run, under the same load.
DATA_TABLES = (
    "instances_tag",
    "instances_elementinstance",
    "instances_elementinstance_tags",
    "instances_webhooksettings",
    "instances_eventnotification",
    "instances_eventdailycount",
    "instances_auditentry",
)


def create_schema(schema: str) -> None:
    execute(f"CREATE SCHEMA {schema}")
    for table in DATA_TABLES:
        execute(f"CREATE TABLE {schema}.{table} (LIKE public.{table} INCLUDING ALL)")


def use(schema: str) -> None:
    execute(f"SET search_path TO {schema}, public")


def seed(schema: str, size: dict) -> float:
    started = time.perf_counter()
    create_schema(schema)
    use(schema)
    execute(
        "INSERT INTO instances_tag (id, name) SELECT t, 'team-' || t FROM generate_series(1, %s) t",
        [TAGS],
    )
    seed_instances(1, size["instances"])
    plain = size["events"] - size["hot_events"]
    seed_events(1, plain, instances=size["instances"], hot_first=plain + 1, hot_last=size["events"])
    rebuild_rollup()
    return time.perf_counter() - started


# --- Measuring pages ------------------------------------------------------------------------------


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


# --- The load run ---------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def bench_database_url() -> str:
    parts = urlsplit(os.environ["DATABASE_URL"])
    return urlunsplit(parts._replace(path="/" + connection.settings_dict["NAME"]))


def start_gunicorn(port: int) -> subprocess.Popen:
    env = {
        **os.environ,
        "DEBUG": "false",
        "SECRET_KEY": "bench-only-" + "x" * 50,
        "FIELD_ENCRYPTION_KEYS": ",".join(settings.FIELD_ENCRYPTION_KEYS),
        "DATABASE_URL": bench_database_url(),
        "SITE_URL": "https://bench.invalid",
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "false",
        "CLOUD_ELEMENTS_SANDBOX": "true",
        "CLOUD_ELEMENTS_USER_SECRET": "bench-user",
        "CLOUD_ELEMENTS_ORGANIZATION_SECRET": "bench-org",
        "LOG_LEVEL": "WARNING",
        "STATIC_ROOT": STATIC_ROOT.name,  # empty: no page with static files is requested
    }
    gunicorn = Path(sys.executable).with_name("gunicorn")
    process = subprocess.Popen(
        [str(gunicorn), "config.wsgi", *GUNICORN.split()[1:], "--bind", f"127.0.0.1:{port}"],
        cwd=settings.BASE_DIR,
        env=env,
    )
    for _ in range(100):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as answer:
                if answer.status == 200:
                    return process
        except OSError:
            time.sleep(0.2)
    process.terminate()
    raise RuntimeError("gunicorn did not start")


def instance_uuid(pk: int) -> str:
    # As seeded: md5('bench' || id)::uuid.
    return str(uuid.UUID(hashlib.md5(f"bench{pk}".encode()).hexdigest()))


# The load run delivers to this many instances in turn (those not deleted), as Cloud Elements
# does for a team with many customers (and, in a second run, to RECEIVER only).
SPREAD = [pk for pk in range(2, 1002) if pk % 97 != 13]


def wrk_script(
    directory: Path, name: str, first: int, count: int, *, targets: list[int], stop_after: int
) -> Path:
    """A wrk script posting `count` distinct signed deliveries (serials from `first`) to the
    `targets` instances in turn; each wrk thread stops after `stop_after` answers (0: never)."""
    lines = ["local data = {"]
    for serial in range(first, first + count):
        body = BODY.replace('"bench"', f'"load-{serial}"')
        path = f"/webhooks/{instance_uuid(targets[serial % len(targets)])}/"
        signature = sign(SIGNATURE_KEY, body.encode())
        lines.append(f"  {{[==[{path}]==], [==[{body}]==], [==[{signature}]==]}},")
    lines.append("}")
    lines.append(
        f"""
local threads, quota = 0, {stop_after}
function setup(thread) thread:set("tid", threads); threads = threads + 1 end
function init(args) i = tid; sent = 0; step = 2 end
function request()
  local item = data[(i % #data) + 1]
  i = i + step
  return wrk.format("POST", item[1], {{["Content-Type"] = "application/json",
    ["Elements-Webhook-Signature"] = item[3]}}, item[2])
end
function response(status, headers, body)
  if status ~= 200 then io.write("status " .. status .. "\\n") end
  sent = sent + 1
  if quota > 0 and sent >= quota then wrk.thread:stop() end
end
"""
    )
    path = directory / name
    path.write_text("\n".join(lines))
    return path


def run_wrk(url: str, seconds: float, script: Path | None = None) -> float:
    command = ["wrk", "-t2", "-c8", f"-d{seconds:.0f}s", "--latency"]
    if script:
        command += ["-s", str(script)]
    output = subprocess.run(command + [url], capture_output=True, text=True, check=True).stdout
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    if bad:
        print(f"\n  {bad.group(0)} on {url}")
    return float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))


def worker_rss_kb(master: int) -> int:
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    total = 0
    for pid in children:
        status = Path(f"/proc/{pid}/status").read_text()
        total += int(re.search(r"VmRSS:\s+(\d+)", status).group(1))
    return total


def receiver_round_trips() -> tuple[int, int, int]:
    """Round trips of a first delivery to an instance (its worker reads it), of the next
    one (the read is kept: WEBHOOK_RECEIVER_CACHE_SECONDS) and of a redelivery."""
    # A client without the operator's session cookie, as Cloud Elements posts.
    client = Client()
    instance = ElementInstance.objects.get(pk=RECEIVER)
    ingest.forget_receivers()

    def deliver(event_id: str) -> int:
        body = BODY.replace('"bench"', f'"{event_id}"').encode()
        with counting_round_trips() as trips:
            response = client.post(
                f"/webhooks/{instance.uuid}/",
                body,
                content_type="application/json",
                HTTP_ELEMENTS_WEBHOOK_SIGNATURE=sign(SIGNATURE_KEY, body),
            )
            assert response.status_code == 200
        return trips.total

    return deliver("round-trips-1"), deliver("round-trips-2"), deliver("round-trips-2")


def stored_events() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM instances_eventnotification")
        return cursor.fetchone()[0]


def load_run() -> None:
    if not shutil.which("wrk"):
        print("\nLoad run not done: wrk is not installed (apt-get install wrk).")
        return
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    process = start_gunicorn(port)
    try:
        with tempfile.TemporaryDirectory() as scratch:
            directory = Path(scratch)
            # Both warmed up, as a running server is: connections open, the receiver's
            # statements prepared and its instances read.
            run_wrk(f"{base}/healthz", 2)
            warm_up = wrk_script(
                directory, "warm.lua", 400_000, 5_000, targets=SPREAD, stop_after=0
            )
            run_wrk(base + "/", 2, warm_up)
            health, spread, hot = [], [], []
            for n in range(2):  # interleaved
                health.append(run_wrk(f"{base}/healthz", 8))
                script = wrk_script(
                    directory, f"spread{n}.lua", n * 50_000, 30_000, targets=SPREAD, stop_after=0
                )
                spread.append(run_wrk(base + "/", 8, script))
                script = wrk_script(
                    directory,
                    f"hot{n}.lua",
                    100_000 + n * 50_000,
                    30_000,
                    targets=[RECEIVER],
                    stop_after=0,
                )
                hot.append(run_wrk(base + "/", 8, script))
            stored_before = stored_events()
            memory_script = wrk_script(
                directory, "memory.lua", 300_000, 20_000, targets=SPREAD, stop_after=10_000
            )
            rss_before = worker_rss_kb(process.pid)
            run_wrk(base + "/", 120, memory_script)
            rss_after = worker_rss_kb(process.pid)
            stored = stored_events() - stored_before
    finally:
        process.terminate()
        process.wait(timeout=10)
    health_rps = statistics.mean(health)
    spread_rps, hot_rps = statistics.mean(spread), statistics.mean(hot)
    growth = (rss_after - rss_before) / 1024
    print(
        f"\nLoad run ({GUNICORN}, DEBUG=false; wrk -t2 -c8, 2 × 8 s each, interleaved):"
        f"\n  /healthz                              {health_rps:8.0f} requests/s"
        f"\n  signed deliveries, {len(SPREAD)} instances     {spread_rps:8.0f} requests/s"
        f"  ratio {spread_rps / health_rps:.2f} (goal ≥ 0.5)"
        f"\n  signed deliveries, one instance       {hot_rps:8.0f} requests/s"
        f"  ratio {hot_rps / health_rps:.2f}"
        f"\n  worker memory (all workers) across {stored:,} stored deliveries: "
        f"{rss_before / 1024:.1f} → {rss_after / 1024:.1f} MB ({growth:+.1f} MB)"
    )


# --- The run --------------------------------------------------------------------------------


def test_every_page_and_the_receiver_small_to_large(client, django_user_model):
    operator = django_user_model.objects.create_superuser("bench", "bench@example.com", "x")
    client.force_login(operator)

    small_seconds = seed("bench_small", SMALL)
    large_seconds = seed("bench_large", LARGE)
    results = measure_interleaved(client)

    print(
        f"\n\nSeeded with SQL: small in {small_seconds:.1f} s, large in {large_seconds:.1f} s. "
        f"PostgreSQL, in-process Django test client, median of {ROUNDS} rounds, small and "
        "large alternating."
    )
    print(f"\n{'page':40} {'queries':>12} {'median ms small → large':>26} {'ratio':>7}")
    for name, result in results.items():
        (q_small, q_large), (t_small, t_large) = result["queries"], result["ms"]
        print(
            f"{name:40} {q_small:>5} → {q_large:<5} {t_small:>11.1f} → {t_large:<11.1f} "
            f"{t_large / t_small:>6.2f}"
        )
    use("bench_large")
    first, next_one, again = receiver_round_trips()
    print(
        f"\nReceiver: database round trips for a first delivery to an instance {first}, for "
        f"the next one {next_one}, for a redelivery {again} (statements + BEGIN/COMMIT, "
        "counted in-process, large data set)."
    )
    # gunicorn's connections open on the large data set.
    database = connection.settings_dict["NAME"]
    execute(f"ALTER DATABASE {database} SET search_path = bench_large, public")
    try:
        load_run()
    finally:
        # The test database is flushed (then dropped) through `public`.
        execute(f"ALTER DATABASE {database} RESET search_path")
        execute("DROP SCHEMA bench_small CASCADE")
        execute("DROP SCHEMA bench_large CASCADE")
        execute("SET search_path TO public")
