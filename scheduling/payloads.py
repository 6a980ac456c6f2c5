"""The one JSON shape of slots and bookings, shared by the REST API and live pushes."""

from typing import Any

from django.utils import timezone

from accounts.models import User
from credits.selectors import credits_for_bookings, rating_exists
from scheduling.models import AvailabilitySlot, Booking, RescheduleRequest
from scheduling.rules import booking_actions, pending_reschedule, session_price


def _user(user) -> dict[str, Any]:
    return {"id": user.pk, "username": user.username}


def _skill(skill) -> dict[str, Any] | None:
    return None if skill is None else {"slug": skill.slug, "name": skill.name}


def booking_payload(
    booking: Booking,
    *,
    viewer: User | None = None,
    credits: dict[str, int] | None = None,
) -> dict[str, Any]:
    """The booking as the API and live pushes show it. For a ``viewer`` (a participant: API
    answers) it adds ``actions``, what they may do now (``scheduling.rules.booking_actions``);
    pushes go to both participants and leave it out."""
    payload = {
        "id": booking.pk,
        "status": booking.status,
        "slot": booking.slot_id,
        "teacher": _user(booking.teacher),
        "learner": _user(booking.learner),
        "skill": _skill(booking.skill),
        "start": booking.start.isoformat(),
        "end": booking.end.isoformat(),
        "message": booking.message,
        "reason": booking.reason,
        "created_at": booking.created_at.isoformat(),
        "accepted_at": booking.accepted_at.isoformat() if booking.accepted_at else None,
        "started_at": booking.started_at.isoformat() if booking.started_at else None,
        "ended_at": booking.ended_at.isoformat() if booking.ended_at else None,
        "duration_seconds": booking.duration_seconds,
        "counts_for_quota": booking.counts_for_quota,
        "absent": booking.absent or None,
    }
    # What sits in escrow for it and what its teacher was paid (``credits``: the caller
    # knows them already; else one read of the ledger).
    money = (
        credits
        or getattr(booking, "credits_known", None)
        or credits_for_bookings(booking_ids=[booking.pk]).get(booking.pk, {})
    )
    pending = pending_reschedule(booking)
    payload["reschedule"] = None if pending is None else reschedule_payload(pending)
    payload["credits_held"] = money.get("held", 0)
    payload["credits_paid"] = money.get("paid", 0)
    if viewer is not None:
        rated = (
            booking.status == Booking.Status.COMPLETED
            and viewer.pk == booking.learner_id
            and rating_exists(booking_id=booking.pk)
        )
        payload["actions"] = sorted(
            booking_actions(booking=booking, user=viewer, now=timezone.now(), rated=rated)
        )
    return payload


def reschedule_payload(request: RescheduleRequest) -> dict[str, Any]:
    """A request to move a session: the proposed slot and time, and what it would cost."""
    return {
        "id": request.pk,
        "status": request.status,
        "slot": request.slot_id,
        "start": request.start.isoformat(),
        "end": request.end.isoformat(),
        "from_start": request.from_start.isoformat(),
        "from_end": request.from_end.isoformat(),
        "price": session_price(start=request.start, end=request.end),
        "message": request.message,
        "reason": request.reason,
        "created_at": request.created_at.isoformat(),
        "answered_at": request.answered_at.isoformat() if request.answered_at else None,
    }


def slot_payload(slot: AvailabilitySlot, *, status: str) -> dict[str, Any]:
    return {
        "id": slot.pk,
        "teacher": slot.teacher_id,
        "skill": _skill(slot.skill),
        "start": slot.start.isoformat(),
        "end": slot.end.isoformat(),
        "status": status,
    }
