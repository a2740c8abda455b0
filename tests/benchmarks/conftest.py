import os

# Benchmarks run with `make bench`, not with the test suite.
collect_ignore_glob = [] if os.environ.get("BENCH") else ["test_*.py"]
