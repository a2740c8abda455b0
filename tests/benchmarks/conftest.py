import os

import pytest

# Benchmarks run with `make bench`, not with the test suite.
collect_ignore_glob = [] if os.environ.get("BENCH") else ["test_*.py"]


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix):
    """Keep the connection between requests, as a deployed worker does (the suite closes it)."""
    from django.conf import settings

    settings.DATABASES["default"]["CONN_MAX_AGE"] = 600


@pytest.fixture
def listener():
    """A forwarding destination's app: a local listener process (`forwarding_listener.py`)."""
    from tests.benchmarks.forwarding import ListenerProcess

    found = ListenerProcess()
    yield found
    found.close()


@pytest.fixture(scope="module")
def summary(request):
    """Rows (name, figure) a benchmark module adds; printed together after its last test."""
    from tests.benchmarks.forwarding import print_summary

    rows: list[tuple[str, str]] = []
    yield rows
    print_summary(f"Benchmark {request.module.__name__.rsplit('.', 1)[-1]}", rows)
