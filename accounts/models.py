import zoneinfo
from functools import cache

from django.contrib.auth.models import AbstractUser
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone


@cache
def timezone_names() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def validate_timezone(value: str) -> None:
    if value not in timezone_names():
        raise ValidationError(
            "%(value)s is not a known IANA time zone (for example Europe/Paris).",
            code="invalid_timezone",
            params={"value": value},
        )


class User(AbstractUser):
    class Theme(models.TextChoices):
        SYSTEM = "system", "Follow the system"
        LIGHT = "light", "Light"
        DARK = "dark", "Dark"

    class TimeFormat(models.TextChoices):
        AUTO = "auto", "From my browser's language"
        H24 = "24", "24-hour (14:00)"
        H12 = "12", "12-hour (2:00 PM)"

    class Plan(models.TextChoices):
        FREE = "free", "Free"
        PREMIUM = "premium", "Premium"

    email = models.EmailField("email address")
    is_learner = models.BooleanField(default=True)
    is_teacher = models.BooleanField(default=False)
    timezone = models.CharField(max_length=64, default="UTC", validators=[validate_timezone])
    bio = models.TextField(blank=True, max_length=2000)
    theme = models.CharField(max_length=6, choices=Theme.choices, default=Theme.SYSTEM)
    # 12- or 24-hour clock everywhere (accounts.clock); "auto" follows the browser.
    time_format = models.CharField(
        max_length=4, choices=TimeFormat.choices, default=TimeFormat.AUTO
    )
    subscription_type = models.CharField(max_length=7, choices=Plan.choices, default=Plan.FREE)
    # Premium lasts while this is in the future; a premium row with no expiry is a
    # staff grant without end.
    subscription_expiry = models.DateTimeField(null=True, blank=True)
    # Where the owner last logged in from: a flood of failures from elsewhere never
    # slows logins from here (accounts.services.login_limits_check).
    last_login_address = models.CharField(max_length=45, blank=True, editable=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                Lower("username"),
                name="user_username_ci_unique",
                violation_error_message="A user with that username already exists.",
            ),
            models.UniqueConstraint(
                Lower("email"),
                name="user_email_ci_unique",
                violation_error_message="A user with that email address already exists.",
            ),
            models.CheckConstraint(
                condition=Q(is_learner=True) | Q(is_teacher=True),
                name="user_has_a_role",
                violation_error_message="A user is a learner, a teacher or both.",
            ),
        ]

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.timezone)

    def local_label(self, moment) -> str:
        """``moment`` as this user reads it: "Wed Dec 2, 18:00 (Europe/Paris)" (or "6:00 PM"
        with a 12-hour clock; ``accounts.clock.moment_format``)."""
        from accounts.clock import moment_format

        return f"{moment_format(moment, user=self, zone=self.zone)} ({self.timezone})"

    @property
    def role(self) -> str:
        if self.is_learner and self.is_teacher:
            return "both"
        return "teacher" if self.is_teacher else "learner"

    def is_premium(self, now=None) -> bool:
        if self.subscription_type != self.Plan.PREMIUM:
            return False
        if self.subscription_expiry is None:
            return True
        return self.subscription_expiry > (now or timezone.now())


class Skill(models.Model):
    """Something people teach. Names are unique regardless of case ("python" == "Python")."""

    name = models.CharField(max_length=80)
    slug = models.SlugField(max_length=90, unique=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                Lower("name"),
                name="skill_name_ci_unique",
                violation_error_message="That skill already exists.",
            )
        ]

    def __str__(self) -> str:
        return self.name


class TeacherSkill(models.Model):
    class Level(models.TextChoices):
        BEGINNER = "beginner", "Beginner"
        INTERMEDIATE = "intermediate", "Intermediate"
        EXPERT = "expert", "Expert"

    teacher = models.ForeignKey(User, on_delete=models.CASCADE, related_name="teacher_skills")
    # Indexed by teacher_skill_by_skill (skill first, then teacher: a skill's teachers
    # read from the index alone, as ranking and matchmaking do).
    skill = models.ForeignKey(
        Skill, on_delete=models.CASCADE, related_name="teacher_skills", db_index=False
    )
    level = models.CharField(max_length=12, choices=Level.choices, default=Level.INTERMEDIATE)
    blurb = models.CharField(max_length=280, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # The teacher's ranking score, stored per skill so a skill's teachers come best first
    # from one index. Accounts knows nothing of ratings: credits sets it when the row is
    # created and whenever the teacher is rated (accounts.services.teacher_skill_scores_set);
    # until then it is 0.
    score = models.FloatField(default=0.0, editable=False)

    class Meta:
        ordering = ["skill__name"]
        constraints = [
            models.UniqueConstraint(fields=["teacher", "skill"], name="teacher_skill_unique")
        ]
        # Skill first, best first: ranking and matchmaking read a skill's teachers in
        # score order from the index alone (also the index for "teachers of a skill").
        indexes = [
            models.Index(fields=["skill", "-score", "teacher"], name="teacher_skill_by_score")
        ]

    def __str__(self) -> str:
        return f"{self.teacher} teaches {self.skill} ({self.level})"


class Notification(models.Model):
    """Something a user should know about; pushed live and kept for the bell."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="notifications")
    kind = models.CharField(max_length=40)
    title = models.CharField(max_length=200)
    body = models.TextField(blank=True)
    url = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["user", "-created_at"], name="notification_user_recent"),
            models.Index(
                fields=["user"], condition=Q(read_at__isnull=True), name="notification_user_unread"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} for {self.user}: {self.title}"

    @property
    def read(self) -> bool:
        return self.read_at is not None
