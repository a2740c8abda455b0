import os

import pytest

# Benchmarks run with `make bench`, not with the test suite.
collect_ignore_glob = [] if os.environ.get("BENCH") else ["test_*.py"]


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix):
    """Keep the connection between requests, as a deployed worker does (the suite closes it)."""
    from django.conf import settings

    settings.DATABASES["default"]["CONN_MAX_AGE"] = 600
