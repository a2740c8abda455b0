"""What the forwarding benchmarks share (`make bench`): the seeded instances, a storer that
stores events as the receiver does, destinations, the listener and forwarder processes, and
the CPU that processes used."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import urllib.request
from datetime import datetime
from pathlib import Path

from django.conf import settings
from django.db import connection

from instances.events import ingest
from instances.events.models import EventNotification
from instances.forwarding.models import Destination, new_signing_secret
from tests.benchmarks.load import free_port, instance_uuid, process_env
from tests.benchmarks.seeding import BODY, TAGS, execute, seed_instances

ROOT = Path(settings.BASE_DIR)
LISTENER = Path(__file__).with_name("forwarding_listener.py")
# One secret for every destination of the run, so that the listener verifies them all.
SECRET = new_signing_secret()


def print_summary(title: str, rows: list[tuple[str, str]]) -> None:
    if not rows:
        return
    width = max(len(name) for name, _ in rows)
    print(f"\n\n{title}, summary (load average now {os.getloadavg()[0]:.1f}):")
    for name, value in rows:
        print(f"  {name:<{width}}  {value}")


# -- data -------------------------------------------------------------------------------------


def seed(instances: int) -> list[int]:
    """Instances 1..`instances` with webhook settings and tags (as the page bench seeds them);
    returns those not deleted, which the receiver would store for."""
    execute(
        "INSERT INTO instances_tag (id, name) SELECT t, 'team-' || t FROM generate_series(1, %s) t",
        [TAGS],
    )
    seed_instances(1, instances)
    execute("ANALYZE")
    ingest.forget_receivers()
    return [pk for pk in range(1, instances + 1) if pk % 97 != 13]


def fields_for(serial: int) -> dict:
    """A delivery's fields as the receiver makes them from a CREATED notification."""
    body = BODY.replace('"bench"', f'"fwd-{serial}"')
    events = json.loads(body)["message"]["events"]
    return {
        "dedup_key": f"event:fwd-{serial}",
        "remote_event_id": f"fwd-{serial}",
        "webhook_id": "",
        "signature": EventNotification.Signature.VERIFIED,
        "event_type": "CREATED",
        "object_type": "file",
        "object_id": "/a.txt",
        "events": events,
        "body": body,
    }


class Storer:
    """Stores events as the receiver does: `store_delivery` with the instance as read (the
    `read` tuple the statement re-checks), to the instances in turn."""

    def __init__(self, instances: list[int]) -> None:
        self.instances = instances
        self.reads = {
            pk: ingest.find_receiving_instance(instance_uuid(pk)).read for pk in instances
        }
        self.serial = 0

    def store(self) -> int:
        self.serial += 1
        pk = self.instances[self.serial % len(self.instances)]
        stored = ingest.store_delivery(
            instance_id=pk, fields=fields_for(self.serial), read=self.reads[pk]
        )
        assert isinstance(stored, int), stored
        return stored


def make_destination(*, max_in_flight: int | None = None, url: str = "http://127.0.0.1:9/"):
    fields = {"max_in_flight": max_in_flight} if max_in_flight else {}
    return Destination.objects.create(name="Our app", url=url, signing_secret=SECRET, **fields)


def drop_destinations() -> None:
    """Every destination, queued event, delivery and attempt gone (raw SQL: the ORM's cascade
    would read every delivery first)."""
    for table in (
        "forwarding_queued",
        "forwarding_attempt",
        "forwarding_delivery",
        "forwarding_destination_instances",
        "forwarding_destination",
    ):
        execute(f"DELETE FROM {table}")


def scalar(sql: str, params=None):
    with connection.cursor() as cursor:
        cursor.execute(sql, params or [])
        return cursor.fetchone()


# -- processes --------------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process (all its threads) so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def process_tree_cpu(pid: int) -> float:
    """CPU of a process and its children alive now (gunicorn's master and workers)."""
    total = cpu_seconds(pid)
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError, ValueError):
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                total += cpu_seconds(int(stat.parent.name))
    return total


def postgres_cpu() -> float:
    """CPU of every PostgreSQL process alive now (backends that exit meanwhile are lost, so
    read it before stopping the clients)."""
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError, ValueError):
            text = stat.read_text()
            if text.split("(", 1)[1].startswith("postgres)"):
                fields = text.rsplit(")", 1)[1].split()
                total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


class ListenerProcess:
    def __init__(self) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [sys.executable, str(LISTENER), str(self.port)],
            env={**os.environ, "BENCH_LISTENER_SECRET": SECRET},
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout.readline().strip() == "listening"

    def url(self) -> str:
        return f"{self.base}/hooks/app?token=s3cret"

    def get(self, path: str):
        with urllib.request.urlopen(self.base + path, timeout=30) as answer:
            return json.loads(answer.read()) if path == "/stats" else None

    def close(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


class Forwarders:
    """`manage.py forward` processes, their output in a file."""

    def __init__(self, count: int, concurrency: int) -> None:
        self.log = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115 (closed in stop)
        env = process_env(FORWARDING_POLL_SECONDS="0.5")
        self.processes = [
            subprocess.Popen(
                [sys.executable, "manage.py", "forward", "--concurrency", str(concurrency)],
                cwd=ROOT,
                env=env,
                stdout=self.log,
                stderr=subprocess.STDOUT,
            )
            for _ in range(count)
        ]

    def alive(self) -> bool:
        return all(p.poll() is None for p in self.processes)

    def cpu(self) -> float:
        return sum(cpu_seconds(p.pid) for p in self.processes)

    def stop(self) -> str:
        for p in self.processes:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in self.processes:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        self.log.seek(0)
        output = self.log.read()
        self.log.close()
        return output


def delivery_states(destination_id: int) -> dict[str, int]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT state, count(*) FROM forwarding_delivery WHERE destination_id = %s "
            "GROUP BY state",
            [destination_id],
        )
        return dict(cursor.fetchall())


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def latencies(arrivals: list) -> list[float]:
    """Seconds from each event's received_at to its receipt by the listener."""
    return [at - datetime.fromisoformat(received).timestamp() for at, _, received, _ in arrivals]


def check_listener(stats: dict, expected_ids: set[int]) -> None:
    arrivals = stats["arrivals"]
    got = [event_id for _, event_id, _, _ in arrivals]
    assert stats["unreadable"] == 0
    assert len(got) == len(expected_ids), f"{len(got)} requests for {len(expected_ids)} events"
    assert set(got) == expected_ids
    assert stats["verified"] >= len(arrivals) // 100 and stats["failed_count"] == 0, stats["failed"]
