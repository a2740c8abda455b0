"""A small server-rendered chart of deliveries per day (inline SVG, no script, no library)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from django.db.models import OuterRef, Subquery
from django.utils import timezone

from instances.events.models import EventDailyCount
from instances.models import ElementInstance

CHART_HEIGHT = 60
BAR_WIDTH = 14
BAR_GAP = 4


@dataclass(frozen=True)
class Bar:
    day: date
    count: int
    x: int
    y: int
    height: int


def daily_counts(instance: ElementInstance) -> dict[date, int]:
    """Deliveries per local day, from the rollup kept on ingest (one row a day, one query)."""
    return dict(instance.daily_event_counts.values_list("day", "count"))


def last_event_at() -> Subquery:
    """The time of an instance's last stored delivery, for `annotate()` (an index lookup)."""
    latest = EventDailyCount.objects.filter(instance=OuterRef("pk")).order_by("-day")
    return Subquery(latest.values("last_received_at")[:1])


def deliveries_per_day(counts: dict[date, int], days: int = 14) -> list[Bar]:
    """One bar per day for the last `days` days, today last."""
    today = timezone.localdate()
    first = today - timedelta(days=days - 1)
    shown = {day: n for day, n in counts.items() if day >= first}
    peak = max(shown.values(), default=0) or 1
    bars = []
    for offset in range(days):
        day = first + timedelta(days=offset)
        count = shown.get(day, 0)
        height = round(count / peak * (CHART_HEIGHT - 2)) if count else 0
        x = offset * (BAR_WIDTH + BAR_GAP)
        bars.append(Bar(day=day, count=count, x=x, y=CHART_HEIGHT - height, height=height))
    return bars


def chart_width(days: int = 14) -> int:
    return days * (BAR_WIDTH + BAR_GAP) - BAR_GAP


# Room around the bars for the axis labels: the count on the left, the days below.
AXIS_LEFT = 30
AXIS_BELOW = 14


def chart_box(bars: list[Bar]) -> dict:
    """The chart's frame: its size with the axes, the tallest bar's count and the first day."""
    return {
        "width": AXIS_LEFT + chart_width(len(bars)),
        "height": CHART_HEIGHT + AXIS_BELOW,
        "left": AXIS_LEFT,
        "label_x": AXIS_LEFT - 4,
        "peak": max((bar.count for bar in bars), default=0),
        "first": bars[0].day if bars else None,
    }
