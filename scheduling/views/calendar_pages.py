"""Calendar pages: the teacher's availability editor, teacher discovery and profiles.

Times are rendered in the viewer's zone (``ViewerTimezoneMiddleware`` activates
``user.timezone``); the calendars get the same zone from the template.
"""

from datetime import timedelta

from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import render
from django.urls import path
from django.utils import timezone

from accounts.selectors import skills_taught, teacher_skill_list
from credits.selectors import rating_summary, ratings_for_teacher
from scheduling import selectors
from skilllink.errors import NotFound

TEACHERS_PER_PAGE = 20
MAX_PAGE = 500  # deeper than anyone pages; keeps OFFSET bounded
UPCOMING_WEEKS = 8  # the table under the editor (the calendar pages through any week)
NEXT_SLOTS_SHOWN = 10
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


@login_required
def teacher_list(request):
    """Find a teacher: filter by skill and free text, best rated first, 20 a page."""
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
    }
    return render(request, "scheduling/teacher_list.html", context)


@login_required
def teacher_detail(request, teacher_id: int):
    """A teacher's profile: skills, ratings and a read-only calendar of open slots."""
    try:
        teacher = selectors.teacher_get(teacher_id=teacher_id)
    except NotFound as error:
        raise Http404(error.detail) from None
    context = {
        "teacher": teacher,
        "rating": rating_summary(
            count=teacher.rating_count, total=teacher.rating_total, score=teacher.score
        ),
        "ratings": ratings_for_teacher(teacher_id=teacher.pk, limit=RATINGS_SHOWN),
        "next_slots": selectors.slots_list(teacher_id=teacher.pk, limit=NEXT_SLOTS_SHOWN),
        "is_self": teacher.pk == request.user.pk,
    }
    return render(request, "scheduling/teacher_detail.html", context)


urlpatterns = [
    path("availability/", availability, name="availability"),
    path("teachers/", teacher_list, name="teacher_list"),
    path("teachers/<id:teacher_id>/", teacher_detail, name="teacher_detail"),
]
