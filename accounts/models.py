import zoneinfo
from functools import cache

from django.contrib.auth.models import AbstractUser
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone

from accounts.usernames import (
    USERNAME_RULE,
    username_normalise,
    username_problem,
    username_skeleton,
)


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


def validate_username(value: str) -> None:
    """The charset rule of ``accounts.usernames`` for forms that validate the model (admin)."""
    problem = username_problem(username_normalise(value))
    if problem:
        raise ValidationError(problem, code="invalid_username")


HEADLINE_MAX_LENGTH = 120
QUESTION_MAX_LENGTH = 500


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

    # AbstractUser's field with SkillLink's charset (letters, digits, "._-") as its validator.
    username = models.CharField(
        "username",
        max_length=150,
        unique=True,
        help_text=USERNAME_RULE,
        validators=[validate_username],
        error_messages={"unique": "A user with that username already exists."},
    )
    email = models.EmailField("email address")
    is_learner = models.BooleanField(default=True)
    is_teacher = models.BooleanField(default=False)
    timezone = models.CharField(max_length=64, default="UTC", validators=[validate_timezone])
    bio = models.TextField(blank=True, max_length=2000)
    # One line under the name on teacher cards ("Jazz guitar for adult beginners").
    headline = models.CharField(max_length=HEADLINE_MAX_LENGTH, blank=True)
    # A square JPEG written by accounts.services.user_photo_set (Pillow: resized,
    # re-encoded, metadata dropped); empty = initials are shown instead.
    photo = models.ImageField(upload_to="photos/", blank=True, max_length=200)
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
    # True once the owner opened the signed link mailed to ``email``; unverified emails do
    # not block login. Only verified addresses are unique (user_verified_email_ci_unique).
    email_verified = models.BooleanField(default=False)
    # Moves on at every password change and deactivation: JWTs carry it (claim "gen"), so
    # every token issued before is refused (skilllink.jwt_auth, accounts.credentials).
    token_generation = models.PositiveIntegerField(default=0, editable=False)
    # accounts.usernames.username_skeleton(username), set on every save; unique, so names
    # a reader could take for one another cannot coexist. NULL only for legacy clashes.
    username_skeleton = models.CharField(max_length=600, null=True, editable=False)  # noqa: DJ001

    class Meta:
        constraints = [
            models.UniqueConstraint(
                Lower("username"),
                name="user_username_ci_unique",
                violation_error_message="A user with that username already exists.",
            ),
            models.UniqueConstraint(
                Lower("email"),
                condition=Q(email_verified=True),
                name="user_verified_email_ci_unique",
                violation_error_message="A user with that email address already exists.",
            ),
            models.UniqueConstraint(
                fields=["username_skeleton"],
                name="user_username_skeleton_unique",
                violation_error_message="That username is too much like an existing one.",
            ),
            models.CheckConstraint(
                condition=Q(is_learner=True) | Q(is_teacher=True),
                name="user_has_a_role",
                violation_error_message="A user is a learner, a teacher or both.",
            ),
        ]

    def clean(self):
        super().clean()
        self.username = username_normalise(self.username)
        look_alikes = User.objects.filter(username_skeleton=username_skeleton(self.username))
        if look_alikes.exclude(pk=self.pk).exists():
            raise ValidationError(
                {"username": "That username looks too much like an existing one."},
                code="username_confusable",
            )

    def save(self, *args, **kwargs):
        """Keeps ``username_skeleton`` in step, and revokes every token and open socket of
        the user when this save changes the password or deactivates the account."""
        update_fields = kwargs.get("update_fields")
        adding = self._state.adding or self.pk is None
        if update_fields is None or "username" in update_fields:
            self.username_skeleton = username_skeleton(self.username)
            if update_fields is not None:
                kwargs["update_fields"] = {*update_fields, "username_skeleton"}
        password_changed = not adding and self._password is not None
        deactivated = (
            not adding
            and not self.is_active
            and (update_fields is None or "is_active" in update_fields)
            and type(self).objects.filter(pk=self.pk, is_active=True).exists()
        )
        super().save(*args, **kwargs)
        if password_changed or deactivated:
            from accounts.credentials import user_tokens_revoke

            user_tokens_revoke(user=self)

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


class TeacherQuestion(models.Model):
    """A short question a learner sends a teacher before booking, and the teacher's reply.

    A learner has at most one unanswered question per teacher (a constraint: the second
    waits for the reply)."""

    learner = models.ForeignKey(User, on_delete=models.CASCADE, related_name="questions_asked")
    teacher = models.ForeignKey(User, on_delete=models.CASCADE, related_name="questions_received")
    body = models.TextField(max_length=QUESTION_MAX_LENGTH)
    created_at = models.DateTimeField(default=timezone.now)
    reply = models.TextField(blank=True, max_length=QUESTION_MAX_LENGTH)
    replied_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["learner", "teacher"],
                condition=Q(replied_at__isnull=True),
                name="question_one_open_per_pair",
                violation_error_message="Your last question to this teacher has no reply yet.",
            )
        ]
        indexes = [models.Index(fields=["teacher", "-created_at"], name="question_teacher_recent")]

    def __str__(self) -> str:
        return f"{self.learner} asks {self.teacher}"
