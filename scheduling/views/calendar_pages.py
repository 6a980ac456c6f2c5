"""Calendar pages: the teacher's availability editor, teacher discovery and profiles.

Times are rendered in the viewer's zone (``ViewerTimezoneMiddleware`` activates
``user.timezone``); the calendars get the same zone from the template.
"""

from datetime import date, timedelta

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from accounts.models import QUESTION_MAX_LENGTH
from accounts.selectors import skills_taught, teacher_skill_list
from accounts.services import question_ask
from credits.selectors import credits_price, rating_summary, ratings_for_teacher
from scheduling import selectors
from scheduling.rules import bookable_teachers
from skilllink.errors import AppError, NotFound

TEACHERS_PER_PAGE = 20
MAX_PAGE = 500  # deeper than anyone pages; keeps OFFSET bounded
UPCOMING_WEEKS = 8  # the table under the editor (the calendar pages through any week)
NEXT_SLOTS_SHOWN = 24  # the per-day list beside the calendar
RATINGS_SHOWN = 10


def _page_number(raw: str | None) -> int:
    try:
        return min(max(int(raw or 1), 1), MAX_PAGE)
    except ValueError:
        return 1


@login_required
def availability(request):
    """The teacher's slot editor; learners get a page saying how to become a teacher."""
    user = request.user
    if not user.is_teacher:
        return render(request, "scheduling/availability.html", {"teachers_only": True}, status=403)
    now = timezone.now()
    upcoming = list(
        selectors.slots_of_teacher(
            teacher=user, start=now, end=now + timedelta(weeks=UPCOMING_WEEKS)
        )
    )
    for slot in upcoming:
        slot.status = selectors.slot_status(slot, now)
    if request.GET.get("partial") == "upcoming":
        # The table's rows alone: the editor re-reads them after every change.
        return render(request, "scheduling/_cal_upcoming_rows.html", {"upcoming": upcoming})
    context = {
        "teacher_skills": teacher_skill_list(teacher=user),
        "upcoming": upcoming,
        "upcoming_weeks": UPCOMING_WEEKS,
    }
    return render(request, "scheduling/availability.html", context)


def teacher_list(request):
    """Find a teacher (public): filter by skill and free text, best rated first, 20 a page."""
    skill_slug = request.GET.get("skill", "").strip() or None
    q = request.GET.get("q", "").strip()[:100] or None
    page = _page_number(request.GET.get("page"))
    # One extra row tells whether a next page exists without counting.
    found = selectors.teachers_ranked(
        skill_slug=skill_slug,
        q=q,
        limit=TEACHERS_PER_PAGE + 1,
        offset=(page - 1) * TEACHERS_PER_PAGE,
    )
    skills = list(skills_taught())
    context = {
        "teachers": [
            (t, rating_summary(count=t.rating_count, total=t.rating_total, score=t.score))
            for t in found[:TEACHERS_PER_PAGE]
        ],
        "skills": skills,
        "skill_slug": skill_slug or "",
        "skill": next((s for s in skills if s.slug == skill_slug), None),
        "q": q or "",
        "filtered": bool(skill_slug or q),
        "page": page,
        "has_previous": page > 1,
        "has_next": len(found) > TEACHERS_PER_PAGE,
        "viewer_zone": timezone.get_current_timezone_name(),
        "price_per_hour": credits_price(minutes=60),
    }
    return render(request, "scheduling/teacher_list.html", context)


def _slots_by_day(slots) -> list[tuple[date, list]]:
    """Open slots grouped by their day in the viewer's zone (the active one), in order."""
    days: dict[date, list] = {}
    for slot in slots:
        days.setdefault(timezone.localtime(slot.start).date(), []).append(slot)
    return list(days.items())


def teacher_detail(request, username: str):
    """A teacher's public profile, at /teachers/<username>/: skills, ratings, a calendar of
    open times with the same times listed per day, and a question form. An old URL by id
    (or another spelling of the name) redirects to the canonical one."""
    try:
        teacher, canonical = selectors.teacher_find(name=username)
    except NotFound as error:
        raise Http404(error.detail) from None
    if not canonical:
        return redirect("scheduling:teacher_detail", username=teacher.username, permanent=True)
    viewer = request.user
    signed_in = viewer.is_authenticated
    next_slots = selectors.slots_list(teacher_id=teacher.pk, limit=NEXT_SLOTS_SHOWN)
    context = {
        "teacher": teacher,
        "rating": rating_summary(
            count=teacher.rating_count, total=teacher.rating_total, score=teacher.score
        ),
        "ratings": ratings_for_teacher(teacher_id=teacher.pk, limit=RATINGS_SHOWN),
        "next_slots": next_slots,
        "slot_days": _slots_by_day(next_slots),
        "is_self": signed_in and teacher.pk == viewer.pk,
        "viewer_zone": timezone.get_current_timezone_name(),
        "price_per_hour": credits_price(minutes=60),
        "can_ask": signed_in and viewer.is_learner and teacher.pk != viewer.pk,
        "question_form": QuestionForm(
            initial={
                "body": request.session.pop(f"question_draft:{teacher.pk}", "") if signed_in else ""
            }
        ),
        "question_max": QUESTION_MAX_LENGTH,
        "here": request.get_full_path(),
    }
    return render(request, "scheduling/teacher_detail.html", context)


class QuestionForm(forms.Form):
    body = forms.CharField(
        max_length=QUESTION_MAX_LENGTH,
        label="Your question",
        widget=forms.Textarea(
            attrs={
                "rows": 3,
                "maxlength": QUESTION_MAX_LENGTH,
                "placeholder": "e.g. Can we work on the pieces I am practising?",
            }
        ),
        help_text=f"One short question, at most {QUESTION_MAX_LENGTH} characters. "
        "They are notified and reply to you on SkillLink.",
    )


@login_required
@require_POST
def teacher_ask(request, username: str):
    """Send the teacher one short question (``accounts.services.question_ask``)."""
    try:
        card, _ = selectors.teacher_find(name=username)
    except NotFound as error:
        raise Http404(error.detail) from None
    teacher = bookable_teachers().get(pk=card.pk)
    try:
        question_ask(learner=request.user, teacher=teacher, body=request.POST.get("body", ""))
    except AppError as error:
        messages.error(request, error.detail)
        # Keep what they typed: the form shows it again.
        request.session[f"question_draft:{teacher.pk}"] = request.POST.get("body", "")[
            :QUESTION_MAX_LENGTH
        ]
    else:
        messages.success(
            request, f"Question sent to {teacher.username}. You'll be notified of the reply."
        )
    return redirect(reverse("scheduling:teacher_detail", args=[teacher.username]) + "#ask")


urlpatterns = [
    path("availability/", availability, name="availability"),
    path("teachers/", teacher_list, name="teacher_list"),
    path("teachers/<str:username>/", teacher_detail, name="teacher_detail"),
    path("teachers/<str:username>/ask/", teacher_ask, name="teacher_ask"),
]
