"""In-process request timing (Django's test ``Client``, no network) and EXPLAIN capture."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from django.db import connection
from django.test import Client

from bench.stats import percentile


def client(token: str | None = None) -> Client:
    """A client that sends requests as to 127.0.0.1 (an allowed host), with a JWT if given."""
    extra = {"SERVER_NAME": "127.0.0.1"}
    if token:
        extra["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    return Client(**extra)


def access_token(user) -> str:
    from rest_framework_simplejwt.tokens import RefreshToken

    return str(RefreshToken.for_user(user).access_token)


@dataclass
class Timings:
    samples_ms: list[float] = field(default_factory=list)
    cpu_ms: list[float] = field(default_factory=list)
    sql_ms: list[float] = field(default_factory=list)
    statuses: Counter = field(default_factory=Counter)
    queries: Counter = field(default_factory=Counter)
    items: list[int] = field(default_factory=list)

    def note_queries(self) -> str:
        if not self.queries:
            return ""
        low, high = min(self.queries), max(self.queries)
        return f"queries {low}" if low == high else f"queries {low}-{high}"

    def note_cpu(self) -> str:
        """This thread's CPU time per request (Python and SQLite work, not waiting for a
        PostgreSQL server or for a busy machine's other processes), and the time Django
        logged for its SQL (on PostgreSQL: round trips included)."""
        return (
            f"CPU p50 {percentile(self.cpu_ms, 50):.1f} / p95 {percentile(self.cpu_ms, 95):.1f}, "
            f"SQL p50 {percentile(self.sql_ms, 50):.1f} / p95 {percentile(self.sql_ms, 95):.1f}"
        )

    def note_statuses(self) -> str:
        return "HTTP " + ", ".join(f"{code} x{n}" for code, n in sorted(self.statuses.items()))


def run(requests: Iterable[Callable[[], object]], *, warmup: int, on_response=None) -> Timings:
    """Call each request (a thunk returning a response); the first ``warmup`` are not kept.

    With DEBUG on, Django resets ``connection.queries`` when a request starts, so
    its length afterwards is the request's query count.
    """
    timings = Timings()
    for i, request in enumerate(requests):
        cpu_started = time.thread_time()
        started = time.perf_counter()
        response = request()
        elapsed = (time.perf_counter() - started) * 1000
        cpu = (time.thread_time() - cpu_started) * 1000
        if i < warmup:
            continue
        timings.samples_ms.append(elapsed)
        timings.cpu_ms.append(cpu)
        timings.statuses[response.status_code] += 1
        timings.queries[len(connection.queries)] += 1
        timings.sql_ms.append(sum(float(q["time"]) for q in connection.queries) * 1000)
        if on_response is not None:
            on_response(timings, response)
    return timings


def explain_last_request(limit: int = 3, min_ms: float = 2.0) -> list[dict]:
    """EXPLAIN the slowest SELECTs of the request just made (SQL as Django logged it):
    always the slowest one, the next ones only if they took at least ``min_ms``."""
    logged = sorted(connection.queries, key=lambda q: float(q["time"]), reverse=True)
    selects = [q for q in logged if q["sql"].lstrip().upper().startswith("SELECT")]
    plans = []
    for rank, query in enumerate(selects[:limit]):
        took = float(query["time"]) * 1000
        if rank and took < min_ms:
            break
        plans.append({"ms": round(took, 2), "sql": query["sql"], "plan": explain(query["sql"])})
    return plans


def explain(sql: str) -> str:
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute(f"EXPLAIN QUERY PLAN {sql}")
            rows = cursor.fetchall()
            depth: dict[int, int] = {0: 0}
            lines = []
            for node_id, parent, _unused, detail in rows:
                depth[node_id] = depth.get(parent, 0) + 1
                lines.append("  " * (depth[node_id] - 1) + detail)
            return "\n".join(lines)
        cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}")
        return "\n".join(row[0] for row in cursor.fetchall())
