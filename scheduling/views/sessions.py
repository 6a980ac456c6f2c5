"""Session pages: booking confirmation, my sessions, the session actions, matchmaking, the
upgrade page. (A session's own page composes chat and ratings: it lives in the wiring,
``skilllink.wiring.pages``.)"""

from datetime import time, timedelta
from urllib.parse import quote, urlencode

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from accounts.clock import moment_format, quarter_hours
from accounts.models import TeacherSkill
from accounts.selectors import skills_taught
from accounts.services import PREMIUM_PERIOD, premium_price, subscription_upgrade
from credits.selectors import credits_summary
from scheduling import selectors, transitions
from scheduling.models import AvailabilitySlot, Booking
from scheduling.quota import plan_summary
from scheduling.rules import bookable_teacher_q, session_price
from scheduling.services.bookings import booking_request
from scheduling.services.calendar_feed import (
    calendar_feed_document,
    calendar_feed_reset,
    calendar_feed_token,
)
from scheduling.services.matching import match_propose, match_request, match_request_cancel
from skilllink.errors import AppError

S = Booking.Status


class BookingForm(forms.Form):
    skill = forms.ChoiceField(required=False, label="What do you want to learn?")
    message = forms.CharField(
        required=False,
        max_length=1000,
        label="Message to the teacher (optional)",
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": "What would you like to cover?"}),
    )


def _clock_value(value: str) -> time:
    return time.fromisoformat(value)


class MatchForm(forms.Form):
    """What "Find me a teacher" asks: a skill (none preselected), a window and, optionally,
    a time of day (the viewer's zone, every day of the window)."""

    skill = forms.ChoiceField(label="Skill")
    window_start = forms.DateTimeField(
        label="From",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )
    window_end = forms.DateTimeField(
        label="Until",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )
    # Quarter hours labelled in the viewer's clock (24- or 12-hour, their preference): a
    # browser's <input type="time"> follows its own locale instead.
    day_start = forms.TypedChoiceField(
        required=False, label="Only from (time of day)", coerce=_clock_value, empty_value=None
    )
    day_end = forms.TypedChoiceField(
        required=False, label="to", coerce=_clock_value, empty_value=None
    )
    message = forms.CharField(
        required=False,
        max_length=1000,
        label="Message to the teacher (optional)",
        widget=forms.Textarea(attrs={"rows": 2, "placeholder": "What would you like to cover?"}),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["skill"].choices = [("", "Choose a skill…")] + [
            (s.slug, s.name) for s in skills_taught()
        ]
        hours = quarter_hours()
        self.fields["day_start"].choices = [("", "Any time"), *hours]
        self.fields["day_end"].choices = [("", "Any time"), *hours]

    def clean(self):
        data = super().clean()
        start, end = data.get("window_start"), data.get("window_end")
        if start and end and end <= start:
            self.add_error("window_end", "End after the start.")
        if (data.get("day_start") is None) != (data.get("day_end") is None):
            self.add_error("day_end", "Give both times of day, or neither.")
        elif data.get("day_start") is not None and data["day_start"] == data["day_end"]:
            self.add_error("day_end", "End after the start.")
        return data

    def criteria(self) -> dict:
        """The cleaned search, as the matching services take it."""
        data = self.cleaned_data
        return {
            "skill_slug": data["skill"],
            "window_start": data["window_start"],
            "window_end": data["window_end"],
            "day_start": data.get("day_start"),
            "day_end": data.get("day_end"),
        }

    def query(self) -> str:
        """The search as a query string (to show the proposal again)."""
        data = self.cleaned_data
        values = {
            "skill": data["skill"],
            "window_start": timezone.localtime(data["window_start"]).strftime("%Y-%m-%dT%H:%M"),
            "window_end": timezone.localtime(data["window_end"]).strftime("%Y-%m-%dT%H:%M"),
        }
        if data.get("day_start") is not None:
            values["day_start"] = data["day_start"].strftime("%H:%M")
            values["day_end"] = data["day_end"].strftime("%H:%M")
        return urlencode(values)


def match_form_initial() -> dict:
    """A first search: from the next full hour for a week."""
    start = timezone.localtime().replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    return {"window_start": start, "window_end": start + timedelta(days=7)}


def _open_slot(slot_id: int) -> AvailabilitySlot:
    slot = (
        AvailabilitySlot.objects.select_related("teacher", "skill")
        .filter(bookable_teacher_q(), pk=slot_id)
        .first()
    )
    if slot is None:
        raise Http404("No such slot.")
    return slot


def _slot_is_open(slot: AvailabilitySlot) -> bool:
    return selectors.slots_open().filter(pk=slot.pk).exists()


def _safe_next(request, fallback: str) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return fallback


def _draft_key(slot_id: int) -> str:
    return f"booking_draft:{slot_id}"


def book(request, slot_id: int):
    """Confirm a time: what, when, how long, what it costs. Signed out, the same summary with
    a way to log in that comes back here. A request the plan refuses sends the learner to
    the upgrade page; what they typed waits in their session until they come back."""
    slot = _open_slot(slot_id)
    if not request.user.is_authenticated:
        if request.method == "POST":
            return redirect_to_login(request.get_full_path())
        context = {
            "slot": slot,
            "minutes": int((slot.end - slot.start).total_seconds() // 60),
            "price": session_price(start=slot.start, end=slot.end),
            "is_open": _slot_is_open(slot),
            "viewer_zone": timezone.get_current_timezone_name(),
            "login_url": f"{reverse('accounts:login')}?next={request.path}",
        }
        return render(request, "scheduling/book.html", context)
    draft = request.session.pop(_draft_key(slot.pk), None) if request.method == "GET" else None
    form = BookingForm(request.POST or None, initial=draft or {})
    if slot.skill is not None:
        form.fields["skill"].choices = [(slot.skill.slug, slot.skill.name)]
    else:
        taught = TeacherSkill.objects.filter(teacher=slot.teacher).select_related("skill")
        form.fields["skill"].choices = [("", "Anything they teach")] + [
            (ts.skill.slug, ts.skill.name) for ts in taught
        ]
    if request.method == "POST" and form.is_valid():
        try:
            booking = booking_request(
                learner=request.user,
                slot_id=slot.pk,
                skill_slug=form.cleaned_data["skill"] or None,
                message=form.cleaned_data["message"],
            )
        except AppError as error:
            if error.code == "upgrade_required":
                request.session[_draft_key(slot.pk)] = {
                    "skill": form.cleaned_data["skill"],
                    "message": form.cleaned_data["message"],
                }
                messages.warning(request, error.detail)
                return redirect(f"{reverse('scheduling:upgrade')}?next={request.path}")
            messages.error(request, error.detail)
        else:
            messages.success(
                request,
                f"Request sent to {slot.teacher.username}. You'll be told when they answer.",
            )
            return redirect("session_detail", booking_id=booking.pk)
    price = session_price(start=slot.start, end=slot.end)
    context = {
        "slot": slot,
        "form": form,
        "minutes": int((slot.end - slot.start).total_seconds() // 60),
        "price": price,
        "neg_price": -price,
        "credits": credits_summary(user=request.user),
        "is_open": _slot_is_open(slot),
        "plan": plan_summary(user=request.user),
        "own_slot": slot.teacher_id == request.user.pk,
        "viewer_zone": timezone.get_current_timezone_name(),
        "upgrade_url": f"{reverse('scheduling:upgrade')}?next={request.path}",
    }
    return render(request, "scheduling/book.html", context)


def sessions_context(user) -> dict:
    """The template context of "My sessions" (and its partial)."""
    overview = selectors.sessions_overview(user=user)
    return {
        "waiting": overview.waiting,
        "my_requests": overview.my_requests,
        "upcoming": overview.upcoming,
        "past": overview.past,
        "pending_matches": overview.pending_matches,
    }


def dashboard_sessions_context(user) -> dict:
    """The dashboard's slice of "My sessions": what needs an answer and what is next."""
    overview = selectors.sessions_overview(user=user)
    return {
        "waiting": overview.waiting,
        "upcoming": overview.upcoming[:3],
        "upcoming_more": max(0, len(overview.upcoming) - 3),
        "my_requests": overview.my_requests[:3],
    }


@login_required
def session_list(request):
    partial = request.GET.get("partial")
    if partial == "dashboard":
        context = dashboard_sessions_context(request.user)
        return render(request, "scheduling/_dashboard_sessions.html", context)
    context = sessions_context(request.user)
    if partial:
        return render(request, "scheduling/_sessions_body.html", context)
    token = calendar_feed_token(user=request.user)
    context["calendar_url"] = request.build_absolute_uri(
        reverse("scheduling:calendar_feed", args=[token])
    )
    return render(request, "scheduling/session_list.html", context)


@login_required
@require_POST
def session_action(request, booking_id: int, action: str):
    # The pages answer and cancel; joining and ending happen in the room.
    done = {
        "accept": "Session accepted.",
        "decline": "Session declined.",
        "cancel": "Session cancelled.",
        "accept_reschedule": "Session moved to the new time.",
        "decline_reschedule": "The session keeps its time; the learner is told.",
        "withdraw_reschedule": "Request withdrawn: the session keeps its time.",
    }
    if action not in done:
        raise Http404("No such action.")
    try:
        transitions.booking_act(
            action=action,
            booking_id=booking_id,
            user=request.user,
            reason=request.POST.get("reason", "")[:500],
        )
    except AppError as error:
        if error.status == 404:
            raise Http404(error.detail) from None
        messages.error(request, error.detail)
    else:
        messages.success(request, done[action])
    return redirect(_safe_next(request, reverse("session_detail", args=[booking_id])))


@login_required
@require_POST
def session_reschedule(request, booking_id: int):
    """The learner asks to move the session to another open slot of its teacher."""
    try:
        slot_id = int(request.POST.get("slot", ""))
    except ValueError:
        messages.error(request, "Choose the new time first.")
        return redirect("session_detail", booking_id=booking_id)
    try:
        transitions.booking_reschedule(
            booking_id=booking_id,
            learner=request.user,
            slot_id=slot_id,
            message=request.POST.get("message", "")[:500],
        )
    except AppError as error:
        if error.status == 404:
            raise Http404(error.detail) from None
        messages.error(request, error.detail)
    else:
        messages.success(
            request, "Asked to move the session. You'll be told the moment the teacher answers."
        )
    return redirect("session_detail", booking_id=booking_id)


@login_required
@require_POST
def session_rate(request, booking_id: int):
    try:
        stars = int(request.POST.get("stars", "0"))
    except ValueError:
        stars = 0
    try:
        transitions.booking_rate(
            booking_id=booking_id,
            learner=request.user,
            stars=stars,
            feedback=request.POST.get("feedback", ""),
        )
    except AppError as error:
        if error.status == 404:
            raise Http404(error.detail) from None
        messages.error(request, error.detail)
    else:
        messages.success(request, "Thank you — your rating helps other learners.")
    return redirect("session_detail", booking_id=booking_id)


@login_required
def upgrade(request):
    """The plans: what premium costs and gives. Buying goes through ``upgrade_confirm``."""
    if request.method == "POST":
        # Nothing is charged without the confirmation step (an old form, a stray post).
        return redirect(_upgrade_confirm_url(_safe_next(request, "")))
    next_url = _safe_next(request, "")
    context = {
        "plan": plan_summary(user=request.user),
        "price": premium_price(),
        "next": next_url,
        "confirm_url": _upgrade_confirm_url(next_url),
    }
    return render(request, "scheduling/upgrade.html", context)


def _upgrade_confirm_url(next_url: str) -> str:
    url = reverse("scheduling:upgrade_confirm")
    return f"{url}?next={next_url}" if next_url else url


@login_required
def upgrade_confirm(request):
    """The confirmation step: the price, the period and the new end date; the POST charges
    (``subscription_upgrade``, the payment behind ``accounts.services.payment_charge``)."""
    next_url = _safe_next(request, "")
    if request.method == "POST":
        try:
            subscription_upgrade(user=request.user)
        except AppError as error:
            messages.error(request, error.detail)
        else:
            expiry = timezone.localtime(request.user.subscription_expiry)
            messages.success(
                request,
                f"You're premium until {moment_format(expiry, style='long', user=request.user)}.",
            )
            return redirect(next_url or reverse("scheduling:upgrade"))
    plan = plan_summary(user=request.user)
    now = timezone.now()
    start = plan["expires_at"] if plan["type"] == "premium" and plan["expires_at"] else now
    context = {
        "plan": plan,
        "price": premium_price(),
        "period_days": PREMIUM_PERIOD.days,
        "new_expiry": max(start, now) + PREMIUM_PERIOD,
        "next": next_url,
        "cancel_url": next_url or reverse("scheduling:upgrade"),
    }
    return render(request, "scheduling/upgrade_confirm.html", context)


def _find_url(form: MatchForm | None = None) -> str:
    url = reverse("scheduling:match")
    return f"{url}?{form.query()}" if form is not None else url


@login_required
def match(request):
    """ "Find me a teacher": GET shows the search and, once it is filled in, the best match
    (teacher, time, skill, cost) without booking anything; POST waits for a match (a
    pending request, or the best slot at once if one opened meanwhile)."""
    if request.method == "POST":
        return _match_wait(request)
    searched = "skill" in request.GET  # submitted (a blank skill is then an error)
    form = MatchForm(request.GET if searched else None, initial=match_form_initial())
    context = {"form": form, "searched": False, "search": None, "credits": None}
    if searched and form.is_valid():
        try:
            context["search"] = match_propose(learner=request.user, **form.criteria())
        except AppError as error:
            if error.code == "upgrade_required":
                messages.warning(request, error.detail)
                return redirect(f"{reverse('scheduling:upgrade')}?next={quote(_find_url(form))}")
            for field in error.fields or {}:
                if field in form.fields:
                    form.add_error(field, error.fields[field][0])
            if not error.fields or not set(error.fields) & set(form.fields):
                form.add_error(None, error.detail)
        else:
            context["searched"] = True
            context["credits"] = credits_summary(user=request.user)
            context["query"] = form.query()
    return render(request, "scheduling/find.html", context)


@login_required
@require_POST
def match_confirm(request):
    """Book exactly the proposed slot; if it was taken meanwhile, say so and show the next
    best match for the same search."""
    form = MatchForm(request.POST)
    if not form.is_valid():
        messages.error(request, "That search is no longer valid; please search again.")
        return redirect("scheduling:match")
    try:
        slot_id = int(request.POST.get("slot", ""))
    except ValueError:
        messages.error(request, "Choose a time first.")
        return redirect(_find_url(form))
    try:
        booking = booking_request(
            learner=request.user,
            slot_id=slot_id,
            skill_slug=form.cleaned_data["skill"],
            message=form.cleaned_data["message"],
        )
    except AppError as error:
        if error.code == "upgrade_required":
            messages.warning(request, error.detail)
            return redirect(f"{reverse('scheduling:upgrade')}?next={quote(_find_url(form))}")
        if error.code in ("slot_unavailable", "not_found", "slot_in_past"):
            messages.warning(
                request,
                "That time was taken by someone else a moment ago, so nothing was booked. "
                "Here is the next best match.",
            )
        else:
            messages.error(request, error.detail)
        return redirect(_find_url(form))
    messages.success(
        request,
        f"Request sent to {booking.teacher.username}. You'll be told the moment they answer.",
    )
    return redirect("session_detail", booking_id=booking.pk)


def _match_wait(request):
    form = MatchForm(request.POST)
    if not form.is_valid():
        for field, errors in form.errors.items():
            label = form.fields[field].label if field in form.fields else ""
            messages.error(request, f"{label}: {errors[0]}" if label else errors[0])
        return redirect("scheduling:match")
    data = form.cleaned_data
    try:
        outcome, result = match_request(
            learner=request.user, message=data["message"], **form.criteria()
        )
    except AppError as error:
        messages.error(request, error.detail)
        if error.code == "upgrade_required":
            return redirect("scheduling:upgrade")
        return redirect(_find_url(form))
    if outcome == "matched":
        messages.success(
            request, f"Matched with {result.teacher.username}: your request is waiting for them."
        )
        return redirect("session_detail", booking_id=result.pk)
    messages.info(
        request,
        "No teacher is free in that window yet. We'll book the first fitting slot "
        "the moment one opens and tell you.",
    )
    return redirect("scheduling:session_list")


@login_required
@require_POST
def match_cancel(request, request_id: int):
    try:
        match_request_cancel(learner=request.user, request_id=request_id)
    except AppError as error:
        if error.status == 404:
            raise Http404(error.detail) from None
        messages.error(request, error.detail)
    else:
        messages.success(request, "Match request cancelled.")
    return redirect("scheduling:session_list")


def calendar_feed(request, token: str):
    """Public by design: the unguessable token is the credential (for calendar apps)."""
    document = calendar_feed_document(token=token, site_url=request.build_absolute_uri("/")[:-1])
    if document is None:
        raise Http404("No such calendar.")
    response = HttpResponse(document, content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = 'inline; filename="skilllink.ics"'
    response["Cache-Control"] = "private, max-age=300"
    return response


@login_required
@require_POST
def calendar_feed_new_link(request):
    calendar_feed_reset(user=request.user)
    messages.success(request, "New calendar link created; the old one no longer works.")
    return redirect(f"{reverse('scheduling:session_list')}#calendar")


urlpatterns = [
    path("calendar/<str:token>.ics", calendar_feed, name="calendar_feed"),
    path("calendar/reset/", calendar_feed_new_link, name="calendar_feed_reset"),
    path("book/<id:slot_id>/", book, name="book"),
    path("sessions/", session_list, name="session_list"),
    path("sessions/<id:booking_id>/rate/", session_rate, name="session_rate"),
    path("sessions/<id:booking_id>/reschedule/", session_reschedule, name="session_reschedule"),
    path("sessions/<id:booking_id>/<str:action>/", session_action, name="session_action"),
    path("upgrade/", upgrade, name="upgrade"),
    path("upgrade/confirm/", upgrade_confirm, name="upgrade_confirm"),
    path("match/", match, name="match"),
    path("match/confirm/", match_confirm, name="match_confirm"),
    path("match/<id:request_id>/cancel/", match_cancel, name="match_cancel"),
]
