"""Issue 3: teacher discovery and open-slot queries, server time through the test Client.

- ``GET /api/teachers/?skill=<slug>`` cycling over all skills (anonymous: the
  endpoint is public);
- ``GET /api/slots/?teacher=<id>&start=&end=`` for random teachers and one-week
  ranges;
- ``GET /api/slots/?skill=<slug>&start=&end=`` for random skills and one-week ranges
  (slots require a login: a learner's JWT is sent).
"""

from __future__ import annotations

import random
from datetime import timedelta
from urllib.parse import urlencode

from bench import measure
from bench.data import HORIZON_DAYS, Dataset
from bench.stats import Result

TARGET_MS = 20.0


def _week(rng: random.Random, data: Dataset) -> dict[str, str]:
    start = data.now + timedelta(days=rng.uniform(0, HORIZON_DAYS - 7))
    start = start.replace(second=0, microsecond=0)
    return {"start": start.isoformat(), "end": (start + timedelta(days=7)).isoformat()}


def _count_items(timings: measure.Timings, response) -> None:
    timings.items.append(len(response.json()))


def _items_note(timings: measure.Timings) -> str:
    if not timings.items:
        return ""
    return f"{min(timings.items)}-{max(timings.items)} items"


def run(data: Dataset, *, backend: str, n: int, warmup: int, explain: dict) -> list[Result]:
    from accounts.models import User

    rng = random.Random(3)
    anonymous = measure.client()
    learner = User.objects.get(pk=data.learner_ids[0])
    logged_in = measure.client(measure.access_token(learner))
    skills = data.skill_slugs
    popular = skills[0]  # the loader's most taught skill: the largest result sets
    results = []

    # Teachers by skill: every skill in turn, in a shuffled order.
    order = [skills[i % len(skills)] for i in range(n + warmup)]
    rng.shuffle(order)
    timings = measure.run(
        (lambda s=s: anonymous.get(f"/api/teachers/?skill={s}") for s in order),
        warmup=warmup,
        on_response=_count_items,
    )
    anonymous.get(f"/api/teachers/?skill={popular}")
    explain["teachers ?skill="] = measure.explain_last_request()
    results.append(
        Result(
            "discovery: GET /api/teachers/?skill=",
            backend,
            timings.samples_ms,
            TARGET_MS,
            f"{timings.note_cpu()}, {timings.note_queries()}, {_items_note(timings)}, {timings.note_statuses()}",
        )
    )

    # Open slots of one teacher in a week.
    params = [
        {"teacher": rng.choice(data.teacher_ids), **_week(rng, data)} for _ in range(n + warmup)
    ]
    timings = measure.run(
        (lambda p=p: logged_in.get(f"/api/slots/?{urlencode(p)}") for p in params),
        warmup=warmup,
        on_response=_count_items,
    )
    logged_in.get(f"/api/slots/?{urlencode(params[-1])}")
    explain["slots ?teacher="] = measure.explain_last_request()
    results.append(
        Result(
            "discovery: GET /api/slots/?teacher=&start=&end= (1 week)",
            backend,
            timings.samples_ms,
            TARGET_MS,
            f"{timings.note_cpu()}, {timings.note_queries()}, {_items_note(timings)}, {timings.note_statuses()}",
        )
    )

    # Open slots for a skill in a week (one page: the API's default limit, 100).
    params = [{"skill": rng.choice(skills), **_week(rng, data)} for _ in range(n + warmup)]
    timings = measure.run(
        (lambda p=p: logged_in.get(f"/api/slots/?{urlencode(p)}") for p in params),
        warmup=warmup,
        on_response=_count_items,
    )
    logged_in.get(f"/api/slots/?{urlencode({'skill': popular, **_week(rng, data)})}")
    explain["slots ?skill= (popular skill)"] = measure.explain_last_request()
    logged_in.get(f"/api/slots/?{urlencode({'skill': skills[-1], **_week(rng, data)})}")
    explain["slots ?skill= (rare skill)"] = measure.explain_last_request()
    results.append(
        Result(
            "discovery: GET /api/slots/?skill=&start=&end= (1 week)",
            backend,
            timings.samples_ms,
            TARGET_MS,
            f"{timings.note_cpu()}, {timings.note_queries()}, {_items_note(timings)}, {timings.note_statuses()}",
        )
    )
    return results
