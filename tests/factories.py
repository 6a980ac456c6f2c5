"""Test data builders: real rows through the real services."""

import itertools

from accounts import services
from accounts.models import User

PASSWORD = "a-Long-test-passphrase-42"
_counter = itertools.count(1)


def make_user(
    *, username: str | None = None, role: str = "learner", timezone_name: str = "UTC", **extra
) -> User:
    n = next(_counter)
    username = username or f"user{n}"
    user = services.user_register(
        username=username,
        email=f"{username}@example.test",
        password=PASSWORD,
        role=role,
        timezone_name=timezone_name,
    )
    for field, value in extra.items():
        setattr(user, field, value)
    if extra:
        user.save(update_fields=list(extra))
    return user


def make_teacher(**kwargs) -> User:
    return make_user(role="teacher", **kwargs)


def make_learner(**kwargs) -> User:
    return make_user(role="learner", **kwargs)


def make_skill(name: str = "Python"):
    from django.utils.text import slugify

    from accounts.models import Skill

    skill, _ = Skill.objects.get_or_create(slug=slugify(name), defaults={"name": name})
    return skill


def make_teacher_with_skills(*skill_names: str, **kwargs) -> User:
    from accounts.models import TeacherSkill

    teacher = make_teacher(**kwargs)
    for name in skill_names or ("Python",):
        TeacherSkill.objects.create(teacher=teacher, skill=make_skill(name))
    return teacher


def in_future(*, days: int = 1, hours: int = 0, minutes: int = 0):
    """A whole-hour moment in the future (so slot arithmetic stays readable)."""
    from datetime import timedelta

    from django.utils import timezone

    base = timezone.now().replace(minute=0, second=0, microsecond=0)
    return base + timedelta(days=days, hours=hours, minutes=minutes)


def make_slot(teacher, *, start=None, minutes: int = 60, skill_slug: str | None = None, now=None):
    from datetime import timedelta

    from scheduling.services.slots import slot_create

    start = start or in_future()
    return slot_create(
        teacher=teacher,
        start=start,
        end=start + timedelta(minutes=minutes),
        skill_slug=skill_slug,
        now=now,
    )


def make_staff(*, superuser: bool = True, **kwargs) -> User:
    """A staff member; a superuser (every permission, e.g. adjusting credits) unless told."""
    return make_user(is_staff=True, is_superuser=superuser, **kwargs)


def give_credits(user: User, amount: int) -> None:
    """Add ``amount`` credits to ``user``'s account, as staff would (an adjustment with a
    reason, through the ledger's service): for tests whose learner books a lot."""
    from credits.services import credits_adjust

    bank = User.objects.filter(username="test-bank").first() or make_staff(username="test-bank")
    credits_adjust(user=user, amount=amount, reason="Test credits", actor=bank)
