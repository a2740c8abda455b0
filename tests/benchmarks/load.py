"""The load run: wrk against gunicorn on loopback, signed deliveries against /healthz, the
receiver's round trips and the workers' memory."""

from __future__ import annotations

import hashlib
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

from django.conf import settings
from django.db import connection
from django.test import Client

from instances.events import ingest
from instances.events.signatures import sign
from instances.models import ElementInstance
from tests.benchmarks.seeding import BODY, RECEIVER, SIGNATURE_KEY
from tests.roundtrips import counting_round_trips

# As README's deployment section runs it, with 2 workers (this machine has 2 cores).
GUNICORN = "gunicorn --workers 2 --threads 4"
STATIC_ROOT = tempfile.TemporaryDirectory()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def bench_database_url() -> str:
    parts = urlsplit(os.environ["DATABASE_URL"])
    return urlunsplit(parts._replace(path="/" + connection.settings_dict["NAME"]))


def process_env(**extra: str) -> dict[str, str]:
    """A deployed process's environment on the bench database (gunicorn, a forwarder)."""
    return {
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
        **extra,
    }


def start_gunicorn(port: int) -> subprocess.Popen:
    env = process_env()
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
