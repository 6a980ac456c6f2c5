"""Writes for credits: ratings (the ledger arrives with its own issue)."""

from django.db import IntegrityError, transaction
from django.db.models import F, OuterRef, Subquery, Value
from django.db.models.functions import Coalesce

from accounts.models import TeacherSkill, User
from accounts.services import notification_send
from credits.models import Rating, TeacherRating
from credits.selectors import PRIOR_MEAN, teacher_score_expression
from scheduling.models import Booking
from scheduling.transitions import booking_get_for_user
from skilllink.errors import Conflict, Forbidden, ValidationFailed


@transaction.atomic
def rating_submit(*, booking_id: int, learner: User, stars: int, feedback: str = "") -> Rating:
    """The learner rates a completed session once; the teacher's totals move with it."""
    booking = booking_get_for_user(user=learner, booking_id=booking_id)
    if booking.learner_id != learner.pk:
        raise Forbidden("Only the learner rates a session.")
    if booking.status != Booking.Status.COMPLETED:
        raise Conflict("Only completed sessions can be rated.", code="invalid_transition")
    if not isinstance(stars, int) or not 1 <= stars <= 5:
        raise ValidationFailed("Give 1 to 5 stars.", fields={"stars": ["Give 1 to 5 stars."]})
    if len(feedback) > 2000:
        raise ValidationFailed(
            "Keep feedback under 2,000 characters.", fields={"feedback": ["Too long."]}
        )
    try:
        with transaction.atomic():
            rating = Rating.objects.create(
                booking=booking,
                teacher_id=booking.teacher_id,
                learner=learner,
                stars=stars,
                feedback=feedback,
            )
    except IntegrityError:
        raise Conflict("You have already rated this session.", code="already_rated") from None
    TeacherRating.objects.get_or_create(teacher_id=booking.teacher_id)
    TeacherRating.objects.filter(teacher_id=booking.teacher_id).update(
        count=F("count") + 1, total=F("total") + stars
    )
    teacher_skill_scores_store(teacher_id=booking.teacher_id)
    notification_send(
        user=booking.teacher,
        kind="rating.received",
        title=f"{learner.username} rated your session {stars}★",
        body=feedback[:200],
        url=f"/sessions/{booking.pk}/",
    )
    return rating


def teacher_skill_scores_store(*, teacher_id: int | None = None) -> int:
    """Write the current ranking score into the ``TeacherSkill`` rows of one teacher (or,
    without ``teacher_id``, of every teacher: after bulk loads that bypass ``save()``).

    One UPDATE; call in the transaction that changed the teacher's ``TeacherRating``.
    """
    rows = TeacherSkill.objects.all()
    if teacher_id is not None:
        rows = rows.filter(teacher_id=teacher_id)
    summary = TeacherRating.objects.filter(teacher=OuterRef("teacher")).annotate(
        score=teacher_score_expression(summary="")
    )
    return rows.update(score=Coalesce(Subquery(summary.values("score")[:1]), Value(PRIOR_MEAN)))
