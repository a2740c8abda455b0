"""The suite runs from any clone: no test reads the workspace around the repository.

A user's clone has only the repository; documentation a test checks against lives in
tests/data. CI also runs the suite from a copy of the checkout with nothing beside it
(see .ci/run).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parents[1]
ROOT = TESTS.parent

# Spelled in pieces so that this file does not match itself.
OUTSIDE = [
    ".." + "/shared",
    "SEED" + "_DIR",
    "shared" + "/seed",
    "shared" + "/reference",
    "/work" + "/",
]


def files_under_tests():
    return sorted(p for p in TESTS.rglob("*") if p.is_file() and "__pycache__" not in p.parts)


@pytest.mark.parametrize("path", files_under_tests(), ids=lambda p: str(p.relative_to(TESTS)))
def test_no_test_file_refers_to_a_path_outside_the_repository(path):
    text = path.read_text(encoding="utf-8", errors="replace")
    found = [needle for needle in OUTSIDE if needle.lower() in text.lower()]
    assert not found, f"{path.relative_to(ROOT)} refers to {found}: put the data in tests/data"


def test_the_documentation_the_tests_check_against_is_in_the_repository():
    for name in ("dropbox_instance.json", "dropbox_parameters.json"):
        assert (TESTS / "data" / name).is_file()


def test_ci_runs_the_suite_from_a_copy_with_nothing_beside_it():
    script = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert re.search(r"mktemp -d", script) and "make test" in script
