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
