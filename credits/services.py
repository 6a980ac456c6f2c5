"""Writes for credits: ratings and the ranking score they move."""

from django.db import IntegrityError, transaction
from django.db.models import OuterRef, Subquery

from accounts.models import User
from accounts.services import notification_send, teacher_skill_scores_set
from credits.models import Rating, TeacherRating
from credits.selectors import NEW_TEACHER_SCORE, teacher_score
from skilllink.errors import Conflict, ValidationFailed
from skilllink.text import text_clean


def rating_clean(*, stars: object, feedback: object) -> tuple[int, str]:
    """(stars, feedback) as they will be stored, or ``ValidationFailed``."""
    if isinstance(stars, bool) or not isinstance(stars, int) or not 1 <= stars <= 5:
        raise ValidationFailed("Give 1 to 5 stars.", fields={"stars": ["Give 1 to 5 stars."]})
    return stars, text_clean(feedback, field="feedback", max_length=2000, required=False)


def rating_record(
    *,
    booking_id: int,
    teacher: User,
    learner: User,
    stars: int,
    feedback: str = "",
    url: str = "",
) -> Rating:
    """Record ``learner``'s rating of their session ``booking_id`` with ``teacher`` and move
    the teacher's score. Preconditions: ``stars`` and ``feedback`` passed ``rating_clean``,
    and the caller (``scheduling.transitions.booking_rate``) has checked, in its
    transaction, that this learner may rate the session."""
    stars, feedback = rating_clean(stars=stars, feedback=feedback)
    try:
        with transaction.atomic():
            rating = Rating.objects.create(
                booking_id=booking_id,
                teacher=teacher,
                learner=learner,
                stars=stars,
                feedback=feedback,
            )
    except IntegrityError:
        raise Conflict("You have already rated this session.", code="already_rated") from None
    summary, _ = TeacherRating.objects.select_for_update().get_or_create(
        teacher=teacher, defaults={"score": NEW_TEACHER_SCORE}
    )
    summary.count += 1
    summary.total += stars
    summary.score = teacher_score(count=summary.count, total=summary.total)
    summary.save(update_fields=["count", "total", "score"])
    teacher_skill_scores_set(teacher_id=teacher.pk, score=summary.score)
    notification_send(
        user=teacher,
        kind="rating.received",
        title=f"{learner.username} rated your session {stars}★",
        body=feedback[:200],
        url=url,
    )
    return rating


def teacher_skill_scores_store(*, teacher_id: int | None = None) -> int:
    """Copy the stored scores into the ``TeacherSkill`` rows of one teacher (or of every
    teacher: after bulk loads that bypass the services). Returns the rows updated."""
    if teacher_id is not None:
        score = TeacherRating.objects.filter(teacher_id=teacher_id).values_list("score", flat=True)
        return teacher_skill_scores_set(
            teacher_id=teacher_id, score=score.first() or NEW_TEACHER_SCORE
        )
    stored = TeacherRating.objects.filter(teacher=OuterRef("teacher")).values("score")[:1]
    return teacher_skill_scores_set(score=Subquery(stored), default=NEW_TEACHER_SCORE)


def teacher_skill_score_on_save(*, sender, instance, raw: bool = False, **kwargs):
    """``post_save`` of ``accounts.TeacherSkill``: a new row (or one given to another
    teacher, in admin) takes its teacher's score."""
    if not raw:
        teacher_skill_scores_store(teacher_id=instance.teacher_id)
