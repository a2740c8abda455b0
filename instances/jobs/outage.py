"""Waiting out a database outage in the long-running processes (the task worker, the scheduler).

A dropped connection (a restarted or failed-over server, a killed backend, a network cut) raises
`OperationalError` or `InterfaceError`; left alone it ends the process, and queued and stalled
jobs then wait for nobody. Instead the process logs once, probes the database with backoff until
it answers, logs once more, and carries on. Jobs in flight are resumed by their lease as after
any worker death (services.recover_stalled_jobs).
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable

from django.db import DatabaseError, InterfaceError, OperationalError, connections

logger = logging.getLogger(__name__)
# A lost or refused connection. Other database errors (a missing table: a deploy without its
# migrations) are no outage to wait for: they end the process, loudly.
CONNECTION_ERRORS = (OperationalError, InterfaceError)
FIRST_WAIT = 0.5
LONGEST_WAIT = 30.0


def drop_connections() -> None:
    for connection in connections.all(initialized_only=True):
        with contextlib.suppress(DatabaseError):
            connection.close()


def database_answers() -> bool:
    try:
        with connections["default"].cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError:
        drop_connections()
        return False
    return True


def wait_for_database(
    error: Exception, *, who: str, keep_waiting: Callable[[], bool] = lambda: True
) -> bool:
    """Log the outage, wait until the database answers; False if told to stop meanwhile."""
    logger.error("%s: the database is unreachable (%s); waiting for it.", who, error)
    drop_connections()
    started, wait = time.monotonic(), FIRST_WAIT
    while keep_waiting():
        # A pause first, even if it answers at once: an error that keeps coming back must not
        # turn the process into a busy loop.
        time.sleep(wait)
        wait = min(wait * 2, LONGEST_WAIT)
        if database_answers():
            logger.warning(
                "%s: the database answers again after %.0f s; carrying on.",
                who,
                time.monotonic() - started,
            )
            return True
    return False
