"""Issue 4: ``POST /api/match/`` server time through the test Client.

Also times a direct ``POST /api/bookings/`` (information: the request behind the
notify benchmark). Every request comes from a different learner who has booked nothing yet (half
free plan, half premium), so the quota never refuses. Matched path: a random
skill and a window of 6 h, 1, 3 or 7 days somewhere in the next 55 days; nearly
all match at once (201). Pending path: the skill nobody teaches (202).
"""

from __future__ import annotations

import json
import random
from datetime import timedelta

from bench import measure
from bench.data import HORIZON_DAYS, Dataset, grant_credits, users
from bench.stats import Result

TARGET_MS = 20.0
WINDOWS = [timedelta(hours=6), timedelta(days=1), timedelta(days=3), timedelta(days=7)]


def _fresh_learners(count: int, rng: random.Random) -> list:
    from django.utils import timezone

    from accounts.models import User

    rows = users("matcher", count, teacher=False, learner=True, rng=rng)
    for i, user in enumerate(rows):
        if i % 2:
            user.subscription_type = User.Plan.PREMIUM
            user.subscription_expiry = timezone.now() + timedelta(days=30)
    learners = User.objects.bulk_create(rows, batch_size=1000)
    grant_credits(learners)
    return learners


def _window(rng: random.Random, data: Dataset) -> dict[str, str]:
    length = rng.choice(WINDOWS)
    start = data.now + timedelta(hours=1) + timedelta(days=rng.uniform(0, HORIZON_DAYS - 8))
    start = start.replace(second=0, microsecond=0)
    return {"window_start": start.isoformat(), "window_end": (start + length).isoformat()}


def _post(client, body: dict):
    return client.post("/api/match/", data=json.dumps(body), content_type="application/json")


def _direct_bookings(data: Dataset, clients, rng, *, backend: str, warmup: int) -> Result:
    """``POST /api/bookings/`` of random open slots: the request the notify benchmark
    sends over HTTP, timed here without server or network (for comparison)."""
    from django.db.models import Exists, OuterRef

    from scheduling.models import AvailabilitySlot, Booking

    active = Booking.objects.filter(slot=OuterRef("pk"), status__in=Booking.ACTIVE_STATUSES)
    open_ids = list(
        AvailabilitySlot.objects.filter(start__gt=data.now + timedelta(days=1))
        .filter(~Exists(active))
        .values_list("pk", flat=True)
    )
    slot_ids = rng.sample(open_ids, len(clients))
    timings = measure.run(
        (
            lambda c=c, s=s: c.post(
                "/api/bookings/", data=json.dumps({"slot": s}), content_type="application/json"
            )
            for c, s in zip(clients, slot_ids, strict=True)
        ),
        warmup=warmup,
    )
    return Result(
        "booking: POST /api/bookings/ (in-process, for notify)",
        backend,
        timings.samples_ms,
        TARGET_MS,  # issue 12: the ledger's hold is in this path
        f"{timings.note_cpu()}, {timings.note_queries()}, {timings.note_statuses()}",
    )


def run(data: Dataset, *, backend: str, n: int, warmup: int, explain: dict) -> list[Result]:
    rng = random.Random(4)
    per = n + warmup
    learners = _fresh_learners(3 * per + 2, rng)
    clients = [measure.client(measure.access_token(u)) for u in learners]
    matched_clients, pending_clients = clients[:per], clients[per : 2 * per]
    booking_clients = clients[2 * per : 3 * per]
    results = [_direct_bookings(data, booking_clients, rng, backend=backend, warmup=warmup)]

    bodies = [
        {"skill": rng.choice(data.skill_slugs), **_window(rng, data)} for _ in matched_clients
    ]
    timings = measure.run(
        (lambda c=c, b=b: _post(c, b) for c, b in zip(matched_clients, bodies, strict=True)),
        warmup=warmup,
    )
    week = {"window_start": (data.now + timedelta(days=10)).isoformat()}
    week["window_end"] = (data.now + timedelta(days=17)).isoformat()
    _post(clients[-2], {"skill": data.skill_slugs[0], **week})
    explain["match (matched: most taught skill, 7-day window)"] = measure.explain_last_request()
    matched = timings.statuses.get(201, 0)
    results.append(
        Result(
            "match: POST /api/match/ (matched)",
            backend,
            timings.samples_ms,
            TARGET_MS,
            f"{timings.note_cpu()}, {timings.note_queries()}, {matched}/{timings.statuses.total()} matched (201), "
            f"{timings.note_statuses()}",
        )
    )

    bodies = [{"skill": data.untaught_slug, **_window(rng, data)} for _ in pending_clients]
    timings = measure.run(
        (lambda c=c, b=b: _post(c, b) for c, b in zip(pending_clients, bodies, strict=True)),
        warmup=warmup,
    )
    _post(clients[-1], {"skill": data.untaught_slug, **week})
    explain["match (pending: untaught skill, 7-day window)"] = measure.explain_last_request()
    results.append(
        Result(
            "match: POST /api/match/ (pending, untaught skill)",
            backend,
            timings.samples_ms,
            TARGET_MS,
            f"{timings.note_cpu()}, {timings.note_queries()}, {timings.note_statuses()}",
        )
    )
    return results
