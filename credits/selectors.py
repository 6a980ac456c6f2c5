"""Reads for credits: rating summaries and the ranking score."""

from django.db.models import ExpressionWrapper, F, FloatField, Value
from django.db.models.functions import Cast, Coalesce

from credits.models import Rating

# Bayesian average: every teacher starts with PRIOR_WEIGHT imaginary ratings of
# PRIOR_MEAN stars, so one 5-star rating (3.75) cannot beat fifty 4.8s (4.68), and
# a teacher with good ratings outranks one with none (3.5). A fixed, slightly
# sceptical prior keeps scores stable as the site grows (no global recomputation).
PRIOR_WEIGHT = 5
PRIOR_MEAN = 3.5


def teacher_score_expression(*, prefix: str = ""):
    """SQL for a teacher's score on a ``User`` queryset (or through ``prefix``, e.g. ``teacher__``)."""
    total = Cast(Coalesce(F(f"{prefix}rating_summary__total"), 0), FloatField())
    count = Cast(Coalesce(F(f"{prefix}rating_summary__count"), 0), FloatField())
    return ExpressionWrapper(
        (Value(PRIOR_WEIGHT * PRIOR_MEAN) + total) / (Value(float(PRIOR_WEIGHT)) + count),
        output_field=FloatField(),
    )


def rating_summary(*, count: int, total: int) -> dict:
    return {
        "average": round(total / count, 2) if count else None,
        "count": count,
        "score": round((PRIOR_WEIGHT * PRIOR_MEAN + total) / (PRIOR_WEIGHT + count), 3),
    }


def ratings_for_teacher(*, teacher_id: int, limit: int = 20):
    return Rating.objects.filter(teacher_id=teacher_id).select_related("learner")[:limit]
