"""Ctrl-C stops `make run` quietly: honcho exits 130 when the operator interrupts it, and make
then reports no error; any other failure of honcho still fails `make run`. Issue 26, item 16.

A copy of the Makefile runs in an empty directory whose `.venv` holds stand-ins for python and
honcho (the seam: what honcho exits with), so that nothing is installed or served."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def make_run(tmp_path: Path, honcho_status: int) -> subprocess.CompletedProcess:
    (tmp_path / "Makefile").write_text((ROOT / "Makefile").read_text())
    (tmp_path / "pyproject.toml").write_text("")
    bin_dir = tmp_path / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    for name, status in (("python", 0), ("honcho", honcho_status)):
        tool = bin_dir / name
        tool.write_text(f"#!/bin/sh\nexit {status}\n")
        tool.chmod(0o755)
    installed = tmp_path / ".venv" / ".installed"
    installed.write_text("")
    later = (tmp_path / "pyproject.toml").stat().st_mtime + 10
    os.utime(installed, (later, later))
    environment = {k: v for k, v in os.environ.items() if k not in {"SITE_URL", "MAKEFLAGS"}}
    return subprocess.run(
        ["make", "-C", str(tmp_path), "run"], capture_output=True, text=True, env=environment
    )


def test_an_interrupted_make_run_ends_without_an_error(tmp_path):
    done = make_run(tmp_path, honcho_status=130)

    assert done.returncode == 0, done.stderr
    assert "Error" not in done.stdout + done.stderr


@pytest.mark.parametrize("status", [1, 2])
def test_a_real_failure_still_fails(tmp_path, status):
    done = make_run(tmp_path, honcho_status=status)

    assert done.returncode != 0
    assert f"Error {status}" in done.stderr
