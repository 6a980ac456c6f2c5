from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class Rating(models.Model):
    """A learner's 1-5 stars for one completed session (one per booking)."""

    booking = models.OneToOneField(
        "scheduling.Booking", on_delete=models.CASCADE, related_name="rating"
    )
    teacher = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="ratings_received"
    )
    learner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="ratings_given"
    )
    stars = models.PositiveSmallIntegerField()
    feedback = models.TextField(blank=True, max_length=2000)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=Q(stars__gte=1, stars__lte=5), name="rating_stars_1_5")
        ]
        indexes = [models.Index(fields=["teacher", "-created_at"], name="rating_teacher_recent")]

    def __str__(self) -> str:
        return f"{self.stars}★ for {self.teacher} (booking {self.booking_id})"


class TeacherRating(models.Model):
    """Running totals per teacher and the ranking score they give, kept in step with
    ``Rating`` by ``credits.services``, so ranking thousands of teachers is one indexed
    join, not an aggregate per request. A teacher without a row has the prior score."""

    teacher = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        primary_key=True,
        on_delete=models.CASCADE,
        related_name="rating_summary",
    )
    count = models.PositiveIntegerField(default=0)
    total = models.PositiveIntegerField(default=0)
    # credits.selectors.teacher_score of the totals: written with them, never computed in SQL.
    score = models.FloatField()

    def __str__(self) -> str:
        return f"{self.teacher}: {self.count} ratings"
