"""One POST to a destination, and what came back: never raises, never names the URL."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import timedelta
from email.utils import parsedate_to_datetime

import requests
from django.conf import settings
from django.utils import timezone

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


_local = threading.local()


def _session() -> requests.Session:
    """One session per thread: connections to a destination are kept open between posts."""
    if not hasattr(_local, "session"):
        _local.session = requests.Session()
    return _local.session


def post(url: str, body: bytes, headers: dict[str, str]) -> Answer:
    """POST once; never raises. Errors are named by kind only: an exception's text names the
    URL, whose path or query may hold the app's token."""
    timeout = settings.FORWARDING_TIMEOUT_SECONDS
    started = time.monotonic()
    answer = Answer()
    try:
        with _session().post(
            url,
            data=body,
            headers=headers,
            timeout=(CONNECT_TIMEOUT, timeout),
            allow_redirects=False,
            stream=True,
        ) as response:
            answer.status = response.status_code
            answer.retry_after = _retry_after(response.headers.get("Retry-After"))
            answer.excerpt = _first_bytes(response, deadline=started + timeout)
    except requests.Timeout:
        answer.error = f"No answer within {timeout} s."
    except requests.ConnectionError:
        answer.error = "Could not connect."
    except requests.RequestException as error:
        answer.error = f"The request failed ({type(error).__name__})."
    answer.duration_ms = round((time.monotonic() - started) * 1000)
    if answer.status is not None and not answer.delivered:
        if 300 <= answer.status < 400:
            answer.error = f"Answered {answer.status}: redirects are not followed."
        else:
            answer.error = f"Answered {answer.status}."
    return answer


def _first_bytes(response: requests.Response, *, deadline: float) -> str:
    """The first bytes of the answer, read for no longer than the deadline (a destination
    trickling its answer must not hold a thread)."""
    data = b""
    try:
        for chunk in response.iter_content(256):
            data += chunk
            if len(data) >= EXCERPT_BYTES or time.monotonic() > deadline:
                break
    except requests.RequestException:
        pass  # the status is what counts; the answer's text is a courtesy
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
