"""Pages that compose several apps: the dashboard and a session's own page."""

from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import render
from django.utils import timezone

from accounts.selectors import notification_list, teacher_skill_list
from assistant.selectors import session_panels
from credits.selectors import credits_for_bookings, rating_for_booking
from meetings.selectors import chat_messages
from scheduling.quota import plan_summary
from scheduling.rules import booking_actions, pending_reschedule, room_access, session_price
from scheduling.selectors import slots_for_reschedule
from scheduling.transitions import booking_get_for_user
from scheduling.views.sessions import MatchForm, dashboard_sessions_context, match_form_initial
from skilllink.errors import NotFound


@login_required
def dashboard(request):
    user = request.user
    context = {
        "plan": plan_summary(user=user),
        "recent_notifications": notification_list(user=user, limit=5),
        "teacher_skills": teacher_skill_list(teacher=user) if user.is_teacher else [],
        "match_form": MatchForm(initial=match_form_initial()) if user.is_learner else None,
        **dashboard_sessions_context(user),
    }
    return render(request, "accounts/dashboard.html", context)


@login_required
def session_detail(request, booking_id: int):
    """One session for one of its participants: facts, what they may do now (one rule,
    ``scheduling.rules.booking_actions``), the rating, the assistant's recap and answers,
    the chat and the history."""
    user = request.user
    try:
        booking = booking_get_for_user(user=user, booking_id=booking_id)
    except NotFound as error:
        raise Http404(error.detail) from None
    now = timezone.now()
    rating = rating_for_booking(booking_id=booking.pk)
    actions = booking_actions(booking=booking, user=user, now=now, rated=rating is not None)
    access = room_access(booking=booking, now=now)
    is_teacher = booking.teacher_id == user.pk
    money = credits_for_bookings(booking_ids=[booking.pk]).get(booking.pk, {"held": 0, "paid": 0})
    price = session_price(start=booking.start, end=booking.end)
    context = {
        "money": money,
        "price": price,
        "returned": price - money["paid"] if booking.ended_at else 0,
        "minutes_together": -(-(booking.duration_seconds or 0) // 60),
        "booking": booking,
        "other": booking.learner if is_teacher else booking.teacher,
        "is_teacher": is_teacher,
        "actions": actions,
        # A teacher answers a request with Decline; Cancel is for what was agreed.
        "offer_cancel": "cancel" in actions and "decline" not in actions,
        "room": access,
        "rating": rating,
        "events": booking.events.select_related("actor"),
        "chat_messages": chat_messages(booking_id=booking.pk),
        # The assistant's recap and the questions asked during the session.
        "panels": session_panels(booking=booking, user=user),
        **_reschedule_context(booking, actions),
    }
    template = (
        "scheduling/_session_body.html"
        if request.GET.get("partial")
        else "scheduling/session_detail.html"
    )
    return render(request, template, context)


def _reschedule_context(booking, actions) -> dict:
    """The pending request to move the session (with its price), or the teacher's other open
    times the learner may ask for."""
    pending = pending_reschedule(booking)
    return {
        "reschedule": pending,
        "reschedule_price": session_price(start=pending.start, end=pending.end)
        if pending
        else None,
        "reschedule_slots": slots_for_reschedule(booking=booking)
        if "reschedule" in actions
        else [],
    }
