"""The balance-over-time chart, drawn on the server as inline SVG (no script, no library).

The plot stretches to its box (``preserveAspectRatio="none"``, strokes that do not scale),
and its labels are HTML around it, so text stays readable from phones to wide screens.
Colours come from the stylesheet's variables, so it follows the theme.
"""

import math
from dataclasses import dataclass
from datetime import datetime

from django.utils import timezone
from django.utils.formats import date_format

WIDTH = 1000
HEIGHT = 300
PAD = 8  # room for the line's width and the dots at the edges


@dataclass(frozen=True)
class BalanceChart:
    line: str  # the step line's path
    area: str  # the same, closed down to zero
    dots: str  # one zero-length segment per change (round caps draw the dots)
    grid: list[float]  # y of the horizontal grid lines (top, middle, zero)
    y_max: int
    start: datetime
    end: datetime
    title: str
    summary: str


def nice_ceiling(value: int) -> int:
    """The smallest round number (1, 1.5, 2, 2.5, 3, 4, 5, 6, 8 x 10^k) that is at least
    ``value``, and at least 10: the top of the chart's scale."""
    if value <= 10:
        return 10
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10):
        if step * power >= value:
            return int(step * power)
    return 10 * power  # pragma: no cover - the loop always returns


def _day(moment: datetime) -> str:
    return date_format(timezone.localtime(moment), "M j, Y")


def balance_chart(points: list[tuple[datetime, int]], *, now: datetime) -> BalanceChart | None:
    """The chart of ``points`` (``credits_balance_points``: oldest first) up to ``now``;
    None without points."""
    if not points:
        return None
    start, end = points[0][0], max(now, points[-1][0])
    values = [balance for _, balance in points]
    y_max = nice_ceiling(max(values))
    span = (end - start).total_seconds() or 1.0
    inner_w, inner_h = WIDTH - 2 * PAD, HEIGHT - 2 * PAD

    def x(moment: datetime) -> float:
        return round(PAD + (moment - start).total_seconds() / span * inner_w, 1)

    def y(value: int) -> float:
        return round(PAD + inner_h - max(0, value) / y_max * inner_h, 1)

    first_x, first_y = x(points[0][0]), y(points[0][1])
    line = [f"M{first_x} {first_y}"]
    dots = [f"M{first_x} {first_y}h0"]
    for moment, balance in points[1:]:
        px, py = x(moment), y(balance)
        line.append(f"H{px}V{py}")
        dots.append(f"M{px} {py}h0")
    line.append(f"H{x(end)}")
    path = "".join(line)
    area = f"{path}V{y(0)}H{first_x}Z"
    current = values[-1]
    summary = (
        f"From {_day(start)} to {_day(end)}: started at {values[0]}, now {current} credits; "
        f"lowest {min(values)}, highest {max(values)}."
    )
    return BalanceChart(
        line=path,
        area=area,
        dots="".join(dots) if len(dots) <= 60 else "",
        grid=[y(y_max), y(y_max // 2), y(0)],
        y_max=y_max,
        start=start,
        end=end,
        title="Your balance over time",
        summary=summary,
    )
