"""The README's receiver, run as written (secret and port filled in): it accepts a forwarded
event signed with the destination's secret and refuses one whose body was changed."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from django.utils import timezone

from instances.events.models import EventNotification
from instances.forwarding import message
from instances.forwarding.models import Destination
from instances.models import ElementInstance

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.django_db


def readme_receiver() -> str:
    text = (ROOT / "README.md").read_text()
    section = text[text.index("### Forwarding events to your app") :]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_the_readme_receiver_verifies_a_forwarded_event(make_instance, tmp_path):
    code = readme_receiver()
    assert len(code.strip().splitlines()) <= 20
    destination = Destination.objects.create(name="App", url="http://127.0.0.1/")
    port = free_port()
    script = tmp_path / "receiver.py"
    script.write_text(
        code.replace("whsec_…", destination.signing_secret).replace("9000", str(port))
    )
    server = subprocess.Popen(  # noqa: S603 (the README's own code)
        [sys.executable, str(script)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        instance = make_instance("Customer 42 Dropbox", status=ElementInstance.Status.ACTIVE)
        event = EventNotification.objects.create(
            instance=instance,
            dedup_key="event:readme",
            signature="verified",
            events=[{"eventType": "CREATED", "objectType": "file", "objectId": "/a"}],
            body='{"message": {"events": []}}',
        )
        body = message.event_body(event, instance, [])
        msg_id = message.message_id(instance.uuid, event.dedup_key)
        headers = message.headers(destination, msg_id, body, timezone.now())
        url = f"http://127.0.0.1:{port}/hooks"
        for _ in range(100):
            try:
                answer = requests.post(url, data=body, headers=headers, timeout=5)
                break
            except requests.ConnectionError:
                time.sleep(0.05)
        assert answer.status_code == 204
        changed = body.replace(b"Customer", b"Kustomer")
        tampered = requests.post(url, data=changed, headers=headers, timeout=5)
        assert tampered.status_code == 401
    finally:
        server.terminate()
        out, _ = server.communicate(timeout=10)
    assert f"{msg_id} Customer 42 Dropbox" in out
