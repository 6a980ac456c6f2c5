"""Reads for credits: rating summaries and the ranking score."""

from django.core.cache import cache
from django.db.models import ExpressionWrapper, F, FloatField, Sum, Value
from django.db.models.functions import Cast, Coalesce

from credits.models import Rating, TeacherRating

# Bayesian average: every teacher starts with PRIOR_WEIGHT imaginary ratings at the
# site-wide mean, so one 5-star rating cannot beat fifty 4.8s.
PRIOR_WEIGHT = 5
DEFAULT_PRIOR_MEAN = 4.0
_PRIOR_CACHE_KEY = "ranking:prior-mean"


def rating_prior_mean() -> float:
    """The site-wide mean rating (cached for a minute; the default until ratings exist)."""
    mean = cache.get(_PRIOR_CACHE_KEY)
    if mean is None:
        totals = TeacherRating.objects.aggregate(total=Sum("total"), count=Sum("count"))
        mean = totals["total"] / totals["count"] if totals["count"] else DEFAULT_PRIOR_MEAN
        cache.set(_PRIOR_CACHE_KEY, mean, 60)
    return mean


def rating_prior_forget() -> None:
    cache.delete(_PRIOR_CACHE_KEY)


def teacher_score_expression(*, prefix: str = "", prior_mean: float | None = None):
    """SQL for a teacher's score on a ``User`` queryset (or through ``prefix``, e.g. ``teacher__``)."""
    mean = rating_prior_mean() if prior_mean is None else prior_mean
    total = Cast(Coalesce(F(f"{prefix}rating_summary__total"), 0), FloatField())
    count = Cast(Coalesce(F(f"{prefix}rating_summary__count"), 0), FloatField())
    return ExpressionWrapper(
        (Value(PRIOR_WEIGHT * mean) + total) / (Value(float(PRIOR_WEIGHT)) + count),
        output_field=FloatField(),
    )


def rating_summary(*, count: int, total: int, prior_mean: float | None = None) -> dict:
    mean = rating_prior_mean() if prior_mean is None else prior_mean
    return {
        "average": round(total / count, 2) if count else None,
        "count": count,
        "score": round((PRIOR_WEIGHT * mean + total) / (PRIOR_WEIGHT + count), 3),
    }


def ratings_for_teacher(*, teacher_id: int, limit: int = 20):
    return Rating.objects.filter(teacher_id=teacher_id).select_related("learner")[:limit]
