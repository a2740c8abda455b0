"""Counting a request's database round trips, transaction control included.

CaptureQueriesContext sees statements and SAVEPOINTs but not the BEGIN and COMMIT that an
`atomic()` block costs outside a transaction (the driver sends them). Run outside a test
transaction (`transactional_db`), every statement made inside an atomic block means one
BEGIN and one COMMIT more.
"""

from __future__ import annotations

from contextlib import contextmanager

from django.db import connection
from django.test.utils import CaptureQueriesContext

TRANSACTION_CONTROL = ("BEGIN", "COMMIT", "ROLLBACK")


class RoundTrips:
    def __init__(self) -> None:
        self.statements: list[str] = []
        self.transactions = 0
        self._in_transaction = False

    def __call__(self, execute, sql, params, many, context):
        inside = not connection.get_autocommit()
        if inside and not self._in_transaction:
            self.transactions += 1
        self._in_transaction = inside
        return execute(sql, params, many, context)

    @property
    def total(self) -> int:
        # Each transaction: BEGIN before its first statement, COMMIT after its last (SQLite's
        # backend sends them as statements, PostgreSQL's driver on its own: count them once).
        # A prepared statement is logged without its text (None): it is work.
        work = [
            s for s in self.statements if s is None or not s.upper().startswith(TRANSACTION_CONTROL)
        ]
        return len(work) + 2 * self.transactions


@contextmanager
def counting_round_trips():
    """Yield a RoundTrips whose `total` is filled in when the block ends."""
    trips = RoundTrips()
    with CaptureQueriesContext(connection) as captured, connection.execute_wrapper(trips):
        yield trips
    trips.statements = [query["sql"] for query in captured.captured_queries]
