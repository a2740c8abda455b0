"""Every stylesheet closes each block it opens: an unclosed `@media (max-width: 767px) {` once
turned every rule after it into a phone-only rule (the desktop lost the consent-link, job,
forwarding and element-picker styles, silently)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SHEETS = sorted(ROOT.glob("static/**/*.css"))


@pytest.mark.parametrize("sheet", SHEETS, ids=lambda p: str(p.relative_to(ROOT)))
def test_each_block_is_closed_where_it_should_be(sheet):
    text = re.sub(r"/\*.*?\*/", "", sheet.read_text(), flags=re.S)  # comments say anything
    depth, line = 0, 1
    for char in text:
        line += char == "\n"
        depth += {"{": 1, "}": -1}.get(char, 0)
        assert depth >= 0, f"{sheet.name}: a '}}' closes nothing before line {line}"
        # Rules nest at most inside one at-rule (@media, @supports).
        assert depth <= 2, f"{sheet.name}: a block is still open at line {line}"
    assert depth == 0, f"{sheet.name}: {depth} block(s) never closed"


def test_there_are_stylesheets_to_check():
    assert any(sheet.name == "dashboard.css" for sheet in SHEETS)
