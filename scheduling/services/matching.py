"""Matchmaking: the best open slot for a skill and a window (proposed first, or booked at
once), or a pending request resolved FIFO."""

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from django.db import transaction
from django.utils import timezone

from accounts.models import Skill, User
from accounts.services import notification_send, notifications_send
from credits.selectors import credits_summary
from credits.services import insufficient_credits
from scheduling.models import AvailabilitySlot, Booking, MatchRequest
from scheduling.quota import quota_check
from scheduling.rules import (
    day_ranges,
    fits_day_range,
    horizon_check,
    session_price,
    slot_fits_skill,
)
from scheduling.selectors import open_slots_for_skill
from scheduling.services.bookings import (
    booking_create,
    booking_request,
    booking_requested_notice,
    learner_lock,
)
from skilllink.errors import AppError, Conflict, Forbidden, NotFound, ValidationFailed
from skilllink.realtime import pushes_in_one_hop

MAX_WINDOW = timedelta(days=60)
MAX_CANDIDATES = 25


def _check_window(window_start: datetime, window_end: datetime, now: datetime) -> None:
    if window_end <= window_start:
        raise ValidationFailed(
            "The window must end after it starts.", fields={"window_end": ["End after start."]}
        )
    if window_end <= now:
        raise AppError("That window is already over.", code="window_in_past", status=400)
    if window_end - window_start > MAX_WINDOW:
        raise ValidationFailed(
            "Windows are limited to 60 days.", fields={"window_end": ["At most 60 days."]}
        )
    horizon_check(moment=window_end, now=now, field="window_end")


def _check_day_range(day_start: time | None, day_end: time | None) -> None:
    if (day_start is None) != (day_end is None):
        missing = "day_end" if day_end is None else "day_start"
        raise ValidationFailed(
            "Give both ends of the time of day, or neither.",
            fields={missing: ["Give both ends of the time of day."]},
        )
    if day_start is not None and day_start == day_end:
        raise ValidationFailed(
            "The time of day must end after it starts.",
            fields={"day_end": ["End after start."]},
        )


def _day_ranges(
    learner: User,
    window_start: datetime,
    window_end: datetime,
    day_start: time | None,
    day_end: time | None,
) -> list[tuple[datetime, datetime]] | None:
    if day_start is None or day_end is None:
        return None
    return day_ranges(
        start=window_start, end=window_end, day_start=day_start, day_end=day_end, zone=learner.zone
    )


def _duplicate_check(
    learner: User, skill: Skill, window_start: datetime, window_end: datetime
) -> None:
    """409 ``match_duplicate`` when the learner already waits for ``skill`` in an overlapping
    window (call under ``learner_lock``)."""
    waiting = MatchRequest.objects.filter(
        learner=learner,
        skill=skill,
        status=MatchRequest.Status.PENDING,
        window_start__lt=window_end,
        window_end__gt=window_start,
    ).exists()
    if waiting:
        raise Conflict(
            f"You are already waiting for a {skill.name} teacher in that window. "
            "Cancel that request in My sessions, or pick another window.",
            code="match_duplicate",
        )


def _skill(slug: str) -> Skill:
    skill = Skill.objects.only("name", "slug").filter(slug=slug).first()
    if skill is None:
        raise ValidationFailed("No such skill.", fields={"skill": [f'No skill "{slug}".']})
    return skill


def _search_checked(
    learner: User,
    skill_slug: str,
    window_start: datetime,
    window_end: datetime,
    day_start: time | None,
    day_end: time | None,
    now: datetime,
) -> Skill:
    """The checks a search starts with, shared by ``match_request`` and ``match_propose``:
    a learner, a sound window and time of day, a known skill (returned)."""
    if not learner.is_learner:
        raise Forbidden("Only learners can ask for a match.")
    _check_window(window_start, window_end, now)
    _check_day_range(day_start, day_end)
    return _skill(skill_slug)


def _match_notices(booking: Booking) -> list[tuple[User, dict[str, str]]]:
    return [
        (
            person,
            {
                "kind": "match.found",
                "title": f"Match found: {booking.session_label} with {other.username}",
                "body": person.local_label(booking.start),
                "url": f"/sessions/{booking.pk}/",
            },
        )
        for person, other in (
            (booking.learner, booking.teacher),
            (booking.teacher, booking.learner),
        )
    ]


@transaction.atomic
@pushes_in_one_hop()
def match_request(
    *,
    learner: User,
    skill_slug: str,
    window_start: datetime,
    window_end: datetime,
    message: str = "",
    day_start: time | None = None,
    day_end: time | None = None,
    now: datetime | None = None,
) -> tuple[str, Booking | MatchRequest]:
    """Book the best fitting slot now (``"matched"``), or queue a pending request (``"pending"``;
    409 ``match_duplicate`` when one for the skill and an overlapping window already waits).
    ``day_start``/``day_end``: only slots inside that time of day (the learner's zone)."""
    now = now or timezone.now()
    skill = _search_checked(learner, skill_slug, window_start, window_end, day_start, day_end, now)
    # The rules of booking_request, checked once for all candidates: under the lock,
    # the quota here, and own slot, past, skill fit and overlap in the candidate query.
    learner_lock(learner)
    quota_check(learner=learner, now=now)
    # Read lazily: the first candidate normally books, and later tiers are then never read.
    candidates = _candidates(learner, skill, window_start, window_end, day_start, day_end, now)
    first = next(candidates, None)
    if first is not None and len(message) > 1000:
        raise ValidationFailed(
            "Keep the message under 1,000 characters.", fields={"message": ["Too long."]}
        )
    available = credits_summary(user=learner)["available"]
    unaffordable = None  # the reason a fitting slot was passed over, if one was
    for slot in itertools.chain([first] if first is not None else [], candidates):
        price = session_price(start=slot.start, end=slot.end)
        if price > available:  # a shorter slot may still fit the learner's credits
            unaffordable = insufficient_credits(needed=price, available=available).detail
            continue
        try:
            with transaction.atomic():  # a savepoint: a lost race leaves the rest usable
                booking = booking_create(
                    learner=learner,
                    slot=slot,
                    skill=skill,
                    message=message,
                    now=now,
                    notices=lambda booking, teacher=slot.teacher: [
                        (teacher, booking_requested_notice(booking)),
                        *_match_notices(booking),
                    ],
                )
        except Conflict:  # taken meanwhile: the next candidate
            continue
        except AppError as error:
            if error.code != "insufficient_credits":
                raise
            unaffordable = error.detail  # spent meanwhile, in another tab
            continue
        return "matched", booking
    _duplicate_check(learner, skill, window_start, window_end)
    pending = MatchRequest.objects.create(
        learner=learner,
        skill=skill,
        window_start=window_start,
        window_end=window_end,
        day_start=day_start,
        day_end=day_end,
        message=message,
        created_at=now,
        reason=unaffordable or "",
    )
    return "pending", pending


@dataclass(frozen=True)
class MatchProposal:
    """The best fitting slot, shown before anything is booked."""

    slot: AvailabilitySlot
    skill: Skill
    price: int

    @property
    def teacher(self) -> User:
        return self.slot.teacher

    @property
    def minutes(self) -> int:
        return int((self.slot.end - self.slot.start).total_seconds() // 60)


@dataclass(frozen=True)
class MatchSearch:
    """What ``match_propose`` found: a proposal, or None with the reason in a sentence."""

    proposal: MatchProposal | None
    reason: str
    skill: Skill


def match_propose(
    *,
    learner: User,
    skill_slug: str,
    window_start: datetime,
    window_end: datetime,
    day_start: time | None = None,
    day_end: time | None = None,
    now: datetime | None = None,
) -> MatchSearch:
    """The slot ``match_request`` would book now, without booking it (nothing is written).

    The same refusals as ``match_request`` (403 not a learner or over the free quota, 400
    for the window, the time of day or the skill). Slots the learner cannot pay for are
    passed over, as there.
    """
    now = now or timezone.now()
    skill = _search_checked(learner, skill_slug, window_start, window_end, day_start, day_end, now)
    quota_check(learner=learner, now=now)
    available = credits_summary(user=learner)["available"]
    reason = f"No {skill.name} teacher is free then."
    for slot in _candidates(learner, skill, window_start, window_end, day_start, day_end, now):
        price = session_price(start=slot.start, end=slot.end)
        if price > available:
            reason = insufficient_credits(needed=price, available=available).detail
            continue
        return MatchSearch(MatchProposal(slot=slot, skill=skill, price=price), "", skill)
    return MatchSearch(None, reason, skill)


def _candidates(
    learner: User,
    skill: Skill,
    window_start: datetime,
    window_end: datetime,
    day_start: time | None,
    day_end: time | None,
    now: datetime,
) -> Iterator[AvailabilitySlot]:
    """The open slots a search may take, best first, read lazily tier by tier (the first
    normally books, and later tiers are then never read)."""
    start = max(window_start, now)
    return open_slots_for_skill(
        skill=skill,
        window_start=start,
        window_end=window_end,
        learner=learner,
        now=now,
        limit=MAX_CANDIDATES,
        day_ranges=_day_ranges(learner, start, window_end, day_start, day_end),
    )


def match_requests_resolve_for_slot(*, slot: AvailabilitySlot, now: datetime | None = None) -> None:
    """Give a newly published (or moved) slot to the oldest pending request it fits.

    Runs inside the publishing transaction; a learner who cannot take it (quota,
    overlap) is skipped and stays pending.
    """
    now = now or timezone.now()
    if slot.start <= now:
        return
    candidates = (
        MatchRequest.objects.select_for_update(skip_locked=True)
        .filter(
            status=MatchRequest.Status.PENDING,
            window_start__lt=slot.end,
            window_end__gt=max(slot.start, now),
        )
        .exclude(learner_id=slot.teacher_id)
        .select_related("learner", "skill")
        .order_by("created_at", "id")
    )
    if slot.skill_id is not None:
        candidates = candidates.filter(skill_id=slot.skill_id)
    for pending in candidates[:MAX_CANDIDATES]:
        if not slot_fits_skill(slot=slot, skill=pending.skill):
            continue
        if pending.day_start is not None and not fits_day_range(
            start=slot.start,
            end=slot.end,
            day_start=pending.day_start,
            day_end=pending.day_end,
            zone=pending.learner.zone,
        ):
            continue
        try:
            with transaction.atomic():
                booking = booking_request(
                    learner=pending.learner,
                    slot_id=slot.pk,
                    skill_slug=pending.skill.slug,
                    message=pending.message,
                    now=now,
                )
        except AppError as error:
            # The learner cannot take it (quota, overlap, credits): they stay pending, and
            # their request says why this slot passed them by.
            MatchRequest.objects.filter(pk=pending.pk).update(reason=error.detail[:300])
            continue
        pending.status = MatchRequest.Status.MATCHED
        pending.reason = ""
        pending.booking = booking
        pending.resolved_at = now
        pending.save(update_fields=["status", "booking", "resolved_at", "reason"])
        notifications_send(notices=_match_notices(booking))
        return


def match_request_cancel(*, learner: User, request_id: int) -> MatchRequest:
    with transaction.atomic():
        pending = (
            MatchRequest.objects.select_for_update().filter(pk=request_id, learner=learner).first()
        )
        if pending is None:
            raise NotFound("No such match request.")
        if pending.status != MatchRequest.Status.PENDING:
            raise Conflict("Only a pending request can be cancelled.", code="invalid_transition")
        pending.status = MatchRequest.Status.CANCELLED
        pending.resolved_at = timezone.now()
        pending.save(update_fields=["status", "resolved_at"])
    return pending


def match_requests_expire(*, now: datetime) -> int:
    """Pending requests whose window has passed expire, and the learner is told."""
    expired = 0
    for pending in MatchRequest.objects.filter(
        status=MatchRequest.Status.PENDING, window_end__lte=now
    ).select_related("learner", "skill"):
        with transaction.atomic():
            updated = MatchRequest.objects.filter(
                pk=pending.pk, status=MatchRequest.Status.PENDING
            ).update(status=MatchRequest.Status.EXPIRED, resolved_at=now)
            if updated:
                expired += 1
                notification_send(
                    user=pending.learner,
                    kind="match.expired",
                    title=f"No {pending.skill.name} teacher was free in your window",
                    body="Your match request expired. Try a wider window.",
                    url="/sessions/",
                )
    return expired
