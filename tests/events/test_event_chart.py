"""The instance page charts this instance's deliveries per day over the last fourteen days.

One bar a day, ending today, each titled with its date and count; the busiest day has the
tallest bar and all stand on one baseline; older deliveries and other instances' are not counted.
The chart is an SVG drawn without any inline script, event handler or unsafe-inline policy. The
`page` fixture is in conftest.py.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import dateformat, timezone

from instances.models import ElementInstance
from tests.events.event_log_helpers import ACTIVE, noon, notify

BAR = re.compile(
    r'<rect class="bar( empty)?" x="(\d+)" y="(\d+)" width="(\d+)" height="(\d+)">'
    r"<title>([^<]*)</title></rect>"
)


def chart_svg(page: str) -> str:
    return re.search(r'<figure class="chart">\s*(<svg\b.*?</svg>)', page, re.S).group(1)


def chart(page: str) -> list[dict]:
    svg = chart_svg(page)
    return [
        {"empty": bool(m[0]), "y": int(m[2]), "height": int(m[4]), "title": m[5]}
        for m in BAR.findall(svg)
    ]


def count_of(bar: dict) -> int:
    return int(bar["title"].rsplit(": ", 1)[1])


def day_label(days_ago: int) -> str:
    return dateformat.format(timezone.localdate() - timedelta(days=days_ago), "D j M")


@pytest.fixture
def instance(make_instance) -> ElementInstance:
    """An active instance without a signature key (not the receiver's `instance` of conftest.py)."""
    return make_instance("Finance Dropbox", status=ACTIVE, remote_id=1011)


# --- The 14-day chart ----------------------------------------------------------------------------


def test_the_chart_has_one_bar_per_day_for_fourteen_days_ending_today(instance, page):
    bars = chart(page(instance))

    assert len(bars) == 14
    assert [bar["title"] for bar in bars] == [f"{day_label(n)}: 0" for n in range(13, -1, -1)]
    assert all(bar["empty"] and bar["height"] == 1 for bar in bars)


def test_the_busiest_day_has_the_tallest_bar(instance, page):
    for _ in range(3):
        notify(instance, noon(2))
    notify(instance, noon(5))
    notify(instance, noon(0))

    bars = chart(page(instance))

    busiest = bars[13 - 2]
    assert busiest["title"] == f"{day_label(2)}: 3"
    assert all(bar["height"] < busiest["height"] for bar in bars if bar is not busiest)
    assert bars[13 - 5]["title"] == f"{day_label(5)}: 1"
    assert bars[13]["title"] == f"{day_label(0)}: 1"
    assert 0 < bars[13 - 5]["height"] < busiest["height"]
    # Bars stand on the baseline: y + height is the chart's height for each.
    assert len({bar["y"] + bar["height"] for bar in bars}) == 1
    assert sum(1 for bar in bars if not bar["empty"]) == 3


def test_the_axes_say_how_many_and_which_days(instance, page):
    for _ in range(3):
        notify(instance, noon(2))

    svg = chart_svg(page(instance))

    labels = re.findall(r'<text class="axis"[^>]*>([^<]*)</text>', svg)
    first_day = dateformat.format(timezone.localdate() - timedelta(days=13), "j M")
    # The tallest bar's count and the baseline on the left, the first day and today below.
    assert labels == ["3", "0", first_day, "today"]


def test_events_older_than_fourteen_days_are_not_counted(instance, page):
    for _ in range(5):
        notify(instance, noon(20))
    for _ in range(4):
        notify(instance, noon(14))
    notify(instance, noon(13))
    for _ in range(3):
        notify(instance, noon(1))

    bars = chart(page(instance))

    assert sum(count_of(bar) for bar in bars) == 4
    assert bars[0]["title"] == f"{day_label(13)}: 1"
    assert max(bars, key=lambda bar: bar["height"])["title"] == f"{day_label(1)}: 3"
    assert not any(day_label(14) in bar["title"] for bar in bars)


def test_the_chart_counts_only_this_instance(instance, make_instance, page):
    other = make_instance("Other Dropbox", status=ACTIVE, remote_id=2022)
    for _ in range(4):
        notify(other, noon(1))
    notify(instance, noon(1))

    bars = chart(page(instance))

    assert sum(count_of(bar) for bar in bars) == 1


def test_the_page_runs_no_inline_script(instance, page, client, settings):
    notify(instance, noon(1))

    response = client.get(instance.get_absolute_url())
    content = response.content.decode()

    tags = re.findall(r"<script\b[^>]*>", content, re.I)
    inline = [tag for tag in tags if " src=" not in tag and 'type="application/json"' not in tag]
    assert tags, "the admin's own scripts are expected"
    assert inline == []
    # Served from this site's static files, never a CDN.
    sources = re.findall(r'<script\b[^>]*\ssrc="([^"]+)"', content, re.I)
    assert sources and all(src.startswith(settings.STATIC_URL) for src in sources)
    for body in re.findall(r"<script\b[^>]*>(.*?)</script>", content, re.S | re.I):
        assert body.strip() == "" or body.lstrip().startswith(("{", "["))
    svg = chart_svg(content)
    assert 'role="img"' in svg
    assert "<script" not in svg.lower()
    assert not re.search(r"\son[a-z]+\s*=", svg, re.I)
    assert "unsafe-inline" not in response["Content-Security-Policy"]
