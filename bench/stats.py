"""Percentiles, result rows and the results table."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field


def percentile(values: list[float], p: float) -> float:
    """Linear interpolation between closest ranks (numpy's default); NaN when empty."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = (len(ordered) - 1) * p / 100
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass
class Result:
    """One row of the table: latencies in milliseconds and a p95 target (None = information)."""

    benchmark: str
    backend: str
    samples_ms: list[float] = field(repr=False)
    target_p95_ms: float | None = None
    notes: str = ""

    @property
    def n(self) -> int:
        return len(self.samples_ms)

    def p(self, q: float) -> float:
        return percentile(self.samples_ms, q)

    @property
    def passed(self) -> bool | None:
        if self.target_p95_ms is None:
            return None
        return bool(self.samples_ms) and self.p(95) < self.target_p95_ms

    def to_json(self) -> dict:
        return asdict(self)


HEADER = (
    "| benchmark | backend | n | p50 ms | p95 ms | p99 ms | max ms | target | pass | notes |",
    "| --- | --- | ---: | ---: | ---: | ---: | ---: | --- | --- | --- |",
)


def _ms(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:.1f}" if value < 100 else f"{value:.0f}"


def table_row(result: Result) -> str:
    target = "-" if result.target_p95_ms is None else f"p95 < {result.target_p95_ms:g} ms"
    passed = {None: "-", True: "yes", False: "**NO**"}[result.passed]
    return (
        f"| {result.benchmark} | {result.backend} | {result.n} | {_ms(result.p(50))} | "
        f"{_ms(result.p(95))} | {_ms(result.p(99))} | "
        f"{_ms(max(result.samples_ms) if result.samples_ms else math.nan)} | "
        f"{target} | {passed} | {result.notes} |"
    )


def table(results: list[Result]) -> str:
    return "\n".join([*HEADER, *(table_row(r) for r in results)])
