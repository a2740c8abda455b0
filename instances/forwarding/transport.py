"""One POST to a destination, and what came back: never raises, never names the URL.

urllib3 directly (requests' own transport): one pool of kept-alive connections per destination
host, shared by the forwarder's threads, without requests' per-request work (reading proxy
settings from the environment took a tenth of the forwarder's CPU, measured). Deliveries go
straight to the destination: no HTTP(S)_PROXY.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import timedelta
from email.utils import parsedate_to_datetime

import certifi
import urllib3
from django.conf import settings
from django.utils import timezone
from urllib3.exceptions import HTTPError, NewConnectionError, SSLError
from urllib3.exceptions import TimeoutError as Timeout

CONNECT_TIMEOUT = 3.05
# What is kept of an answer.
EXCERPT_BYTES = 1024
RETRIED_STATUSES = {408, 429}


# -- sending ----------------------------------------------------------------------------------


@dataclass
class Answer:
    status: int | None = None
    duration_ms: int = 0
    excerpt: str = ""
    error: str = ""
    retry_after: timedelta | None = None

    @property
    def delivered(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    @property
    def retried(self) -> bool:
        return self.status is None or self.status in RETRIED_STATUSES or self.status >= 500


_pools: urllib3.PoolManager | None = None
_pools_lock = threading.Lock()


def _pool_manager() -> urllib3.PoolManager:
    global _pools
    with _pools_lock:
        if _pools is None:
            _pools = urllib3.PoolManager(
                num_pools=200,
                maxsize=settings.FORWARDING_CONCURRENCY,
                ca_certs=certifi.where(),
                retries=False,
            )
        return _pools


def post(url: str, body: bytes, headers: dict[str, str]) -> Answer:
    """POST once; never raises. Errors are named by kind only: an exception's text names the
    URL, whose path or query may hold the app's token."""
    timeout = settings.FORWARDING_TIMEOUT_SECONDS
    started = time.monotonic()
    answer = Answer()
    try:
        response = _pool_manager().request(
            "POST",
            url,
            body=body,
            headers=headers,
            timeout=urllib3.Timeout(connect=CONNECT_TIMEOUT, read=timeout),
            redirect=False,
            preload_content=False,
        )
        answer.status = response.status
        answer.retry_after = _retry_after(response.headers.get("Retry-After"))
        answer.excerpt = _first_bytes(response, deadline=started + timeout)
    except NewConnectionError:  # before Timeout: urllib3 makes it a kind of connect timeout
        answer.error = "Could not connect."
    except Timeout:
        answer.error = f"No answer within {timeout} s."
    except SSLError:
        answer.error = "The TLS connection failed (certificate or protocol)."
    except HTTPError as error:
        answer.error = f"The request failed ({type(error).__name__})."
    answer.duration_ms = round((time.monotonic() - started) * 1000)
    if answer.status is not None and not answer.delivered:
        if 300 <= answer.status < 400:
            answer.error = f"Answered {answer.status}: redirects are not followed."
        else:
            answer.error = f"Answered {answer.status}."
    return answer


def _first_bytes(response: urllib3.BaseHTTPResponse, *, deadline: float) -> str:
    """The first bytes of the answer, read for no longer than the deadline (a destination
    trickling its answer must not hold a thread). A connection whose answer was read to its
    end goes back to the pool; any other is closed."""
    data, ended = b"", False
    try:
        while len(data) < EXCERPT_BYTES and time.monotonic() <= deadline:
            chunk = response.read(256)
            if not chunk:
                ended = True
                break
            data += chunk
        ended = ended or response.length_remaining == 0
    except HTTPError:
        pass  # the status is what counts; the answer's text is a courtesy
    finally:
        if not ended:
            response.close()
        response.release_conn()
    return data[:EXCERPT_BYTES].decode("utf-8", "replace").replace("\x00", "\ufffd")


def _retry_after(value: str | None) -> timedelta | None:
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return timedelta(seconds=int(value))
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        return None
    return max(moment - timezone.now(), timedelta(0))
