"""The forwarding bench's stand-in for the team's app: a small asyncio HTTP/1.1 server, run as a
process of its own (`python forwarding_listener.py PORT`), so that its CPU is not the
forwarder's.

Every POST is answered 200 at once (keep-alive) and recorded: its arrival (wall clock), the
event id and received_at read from the body's first bytes, and its webhook-id. One request in
SAMPLE_EVERY has its Standard Webhooks signature verified with the `standardwebhooks` package
against BENCH_LISTENER_SECRET (the destination's secret, given in the environment).
`GET /stats` answers what was recorded as JSON; `GET /reset` forgets it.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import sys
import time

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

SAMPLE_EVERY = 50
# The body's first fields, as message.event_body writes them (compact JSON).
HEAD = re.compile(rb'"data":\{"event_id":(\d+),"received_at":"([^"]+)"')
OK = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok"


class Recorder:
    def __init__(self, secret: str) -> None:
        self.webhook = Webhook(secret) if secret else None
        self.reset()

    def reset(self) -> None:
        # [arrival (time.time()), event id, received_at (ISO), webhook-id]
        self.arrivals: list[tuple[float, int, str, str]] = []
        self.unreadable = 0
        self.verified = 0
        self.failed: list[str] = []

    def record(self, headers: dict[str, str], body: bytes) -> None:
        now = time.time()
        found = HEAD.search(body, 0, 400)
        if found is None:
            self.unreadable += 1
            return
        self.arrivals.append((now, int(found[1]), found[2].decode(), headers.get("webhook-id", "")))
        if self.webhook and len(self.arrivals) % SAMPLE_EVERY == 1:
            try:
                self.webhook.verify(body, headers)
                self.verified += 1
            except WebhookVerificationError as error:
                self.failed.append(str(error))

    def stats(self) -> bytes:
        return json.dumps(
            {
                "arrivals": self.arrivals,
                "unreadable": self.unreadable,
                "verified": self.verified,
                "failed": self.failed[:10],
                "failed_count": len(self.failed),
            }
        ).encode()


async def serve(recorder: Recorder, reader, writer) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            method, target = lines[0].split(" ")[:2]
            headers = {}
            for line in lines[1:]:
                if ":" in line:
                    name, value = line.split(":", 1)
                    headers[name.strip().lower()] = value.strip()
            length = int(headers.get("content-length") or 0)
            body = await reader.readexactly(length) if length else b""
            if method == "GET" and target.startswith("/stats"):
                data = recorder.stats()
                writer.write(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    + f"Content-Length: {len(data)}\r\n\r\n".encode()
                    + data
                )
            elif method == "GET" and target.startswith("/reset"):
                recorder.reset()
                writer.write(OK)
            else:
                recorder.record(headers, body)
                writer.write(OK)
            if headers.get("connection", "").lower() == "close":
                break
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


async def main(port: int) -> None:
    recorder = Recorder(os.environ.get("BENCH_LISTENER_SECRET", ""))
    server = await asyncio.start_server(
        lambda r, w: serve(recorder, r, w), "127.0.0.1", port, backlog=512
    )
    print("listening", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
