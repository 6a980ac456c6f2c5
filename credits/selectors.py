"""Reads for credits: ratings and the ranking score.

The ranking score has one definition, ``teacher_score``; it is stored with each teacher's
totals (``TeacherRating.score``) and copied to their ``TeacherSkill`` rows, so queries read
it and never restate it.
"""

from django.db.models import F, Value
from django.db.models.functions import Coalesce

from credits.models import Rating, TeacherRating

# Bayesian average: every teacher starts with PRIOR_WEIGHT imaginary ratings of
# PRIOR_MEAN stars, so one 5-star rating (3.75) cannot beat fifty 4.8s (4.68), and
# a teacher with good ratings outranks one with none (3.5). A fixed, slightly
# sceptical prior keeps scores stable as the site grows (no global recomputation).
PRIOR_WEIGHT = 5
PRIOR_MEAN = 3.5


def teacher_score(*, count: int, total: int) -> float:
    """The ranking score of a teacher with ``count`` ratings adding up to ``total`` stars."""
    return (PRIOR_WEIGHT * PRIOR_MEAN + total) / (PRIOR_WEIGHT + count)


NEW_TEACHER_SCORE = teacher_score(count=0, total=0)


def teacher_score_field(*, prefix: str = ""):
    """A teacher's stored score on a ``User`` queryset (or through ``prefix``, e.g.
    ``teacher__``); a teacher never rated has ``NEW_TEACHER_SCORE``."""
    return Coalesce(F(f"{prefix}rating_summary__score"), Value(NEW_TEACHER_SCORE))


def teacher_score_of(*, teacher_id: int) -> float:
    """The teacher's stored score (``NEW_TEACHER_SCORE`` without ratings)."""
    score = TeacherRating.objects.filter(teacher_id=teacher_id).values_list("score", flat=True)
    return score.first() or NEW_TEACHER_SCORE


def rating_summary(*, count: int, total: int) -> dict:
    return {
        "average": round(total / count, 2) if count else None,
        "count": count,
        "score": round(teacher_score(count=count, total=total), 3),
    }


def rating_exists(*, booking_id: int) -> bool:
    return Rating.objects.filter(booking_id=booking_id).exists()


def rating_for_booking(*, booking_id: int) -> Rating | None:
    return Rating.objects.filter(booking_id=booking_id).first()


def ratings_for_teacher(*, teacher_id: int, limit: int = 20):
    return Rating.objects.filter(teacher_id=teacher_id).select_related("learner")[:limit]
