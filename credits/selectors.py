"""Reads for credits: rating summaries and the ranking score."""

from django.db.models import ExpressionWrapper, F, FloatField, Value
from django.db.models.functions import Cast, Coalesce

from credits.models import Rating, TeacherRating

# Bayesian average: every teacher starts with PRIOR_WEIGHT imaginary ratings of
# PRIOR_MEAN stars, so one 5-star rating (3.75) cannot beat fifty 4.8s (4.68), and
# a teacher with good ratings outranks one with none (3.5). A fixed, slightly
# sceptical prior keeps scores stable as the site grows (no global recomputation).
PRIOR_WEIGHT = 5
PRIOR_MEAN = 3.5


def teacher_score_expression(*, prefix: str = "", summary: str = "rating_summary__"):
    """SQL for a teacher's score on a ``User`` queryset (or through ``prefix``, e.g. ``teacher__``;
    on a ``TeacherRating`` queryset: ``summary=""``)."""
    total = Cast(Coalesce(F(f"{prefix}{summary}total"), 0), FloatField())
    count = Cast(Coalesce(F(f"{prefix}{summary}count"), 0), FloatField())
    return ExpressionWrapper(
        (Value(PRIOR_WEIGHT * PRIOR_MEAN) + total) / (Value(float(PRIOR_WEIGHT)) + count),
        output_field=FloatField(),
    )


def teacher_score(*, count: int, total: int) -> float:
    """The ranking score of a teacher with ``count`` ratings adding up to ``total`` stars
    (the same float as ``teacher_score_expression`` computes in SQL)."""
    return (PRIOR_WEIGHT * PRIOR_MEAN + total) / (PRIOR_WEIGHT + count)


def teacher_score_of(*, teacher_id: int) -> float:
    """``teacher_score`` from the teacher's running totals (the prior without ratings)."""
    row = TeacherRating.objects.filter(teacher_id=teacher_id).values_list("count", "total").first()
    count, total = row or (0, 0)
    return teacher_score(count=count, total=total)


def rating_summary(*, count: int, total: int) -> dict:
    return {
        "average": round(total / count, 2) if count else None,
        "count": count,
        "score": round((PRIOR_WEIGHT * PRIOR_MEAN + total) / (PRIOR_WEIGHT + count), 3),
    }


def ratings_for_teacher(*, teacher_id: int, limit: int = 20):
    return Rating.objects.filter(teacher_id=teacher_id).select_related("learner")[:limit]
