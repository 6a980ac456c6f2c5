"""The meeting room page."""

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import render
from django.urls import path
from django.utils import timezone

from scheduling.rules import room_access
from scheduling.transitions import booking_get_for_user
from skilllink.errors import NotFound
from skilllink.security import allows_media


@login_required
@allows_media
def room(request, booking_id: int):
    try:
        booking = booking_get_for_user(user=request.user, booking_id=booking_id)
    except NotFound:
        raise Http404("No such session.") from None
    access = room_access(booking=booking, now=timezone.now())
    is_teacher = booking.teacher_id == request.user.pk
    context = {
        "booking": booking,
        "other": booking.learner if is_teacher else booking.teacher,
        "opens": access.opens,
        "closes": access.closes,
        "is_learner": not is_teacher,
    }
    if access.not_yet:
        return render(request, "meetings/room_waiting.html", context)
    if not access.open:
        return render(request, "meetings/room_closed.html", context)
    context["room_config"] = {
        "bookingId": booking.pk,
        "userId": request.user.pk,
        "peerName": context["other"].username,
        "iceServers": settings.SKILLLINK_ICE_SERVERS,
        "closesAt": access.closes.isoformat(),
        "start": booking.start.isoformat(),
        "end": booking.end.isoformat(),
        # Whether this person is the one who rates the session when it ends (the rating
        # itself is refused or accepted by the rule, scheduling.rules.booking_actions).
        "isLearner": not is_teacher,
        "sessionUrl": f"/sessions/{booking.pk}/",
    }
    return render(request, "meetings/room.html", context)


urlpatterns = [path("sessions/<id:booking_id>/room/", room, name="room")]
