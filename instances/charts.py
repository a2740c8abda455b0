"""A small server-rendered chart of deliveries per day (inline SVG, no script, no library)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from django.db.models import Count
from django.db.models.functions import TruncDate
from django.utils import timezone

from .models import ElementInstance

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


def deliveries_per_day(instance: ElementInstance, days: int = 14) -> list[Bar]:
    """One bar per day for the last `days` days, today last; one query."""
    today = timezone.localdate()
    first = today - timedelta(days=days - 1)
    rows = (
        instance.events.filter(received_at__date__gte=first)
        .annotate(day=TruncDate("received_at"))
        .values("day")
        .annotate(n=Count("id"))
        .values_list("day", "n")
    )
    counts = dict(rows)
    peak = max(counts.values(), default=0) or 1
    bars = []
    for offset in range(days):
        day = first + timedelta(days=offset)
        count = counts.get(day, 0)
        height = round(count / peak * (CHART_HEIGHT - 2)) if count else 0
        x = offset * (BAR_WIDTH + BAR_GAP)
        bars.append(Bar(day=day, count=count, x=x, y=CHART_HEIGHT - height, height=height))
    return bars


def chart_width(days: int = 14) -> int:
    return days * (BAR_WIDTH + BAR_GAP) - BAR_GAP
