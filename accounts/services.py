"""Writes for accounts: registration, profile changes, notifications."""

from django.conf import settings
from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import Notification, User, validate_timezone
from accounts.selectors import (
    notification_get_for_user,
    notification_payload,
    notification_unread_count,
)
from skilllink.errors import ValidationFailed
from skilllink.ratelimit import parse_rate, rate_limit_hit
from skilllink.realtime import send_on_commit, user_group

ROLES = {"learner": (True, False), "teacher": (False, True), "both": (True, True)}


def _role_flags(role: str) -> tuple[bool, bool]:
    try:
        return ROLES[role]
    except KeyError:
        raise ValidationFailed(
            "Choose a role: learner, teacher or both.",
            fields={"role": [f'"{role}" is not a role; use learner, teacher or both.']},
        ) from None


def _check_timezone(name: str) -> None:
    try:
        validate_timezone(name)
    except ValidationError as error:
        raise ValidationFailed(error.messages[0], fields={"timezone": error.messages}) from None


def user_register(
    *, username: str, email: str, password: str, role: str, timezone_name: str = "UTC"
) -> User:
    """Create an account. Raises ``ValidationFailed`` (with ``fields``) and changes nothing on bad input."""
    errors: dict[str, list[str]] = {}
    username = username.strip()
    email = email.strip()
    if not username:
        errors["username"] = ["Choose a username."]
    elif User.objects.filter(username__iexact=username).exists():
        errors["username"] = ["That username is taken."]
    try:
        validate_email(email)
    except ValidationError:
        errors["email"] = ["Enter a valid email address."]
    else:
        if User.objects.filter(email__iexact=email).exists():
            errors["email"] = ["An account with that email address already exists."]
    if role not in ROLES:
        errors["role"] = [f'"{role}" is not a role; use learner, teacher or both.']
    try:
        validate_timezone(timezone_name)
    except ValidationError as error:
        errors["timezone"] = error.messages
    try:
        password_validation.validate_password(password, User(username=username, email=email))
    except ValidationError as error:
        errors["password"] = error.messages
    if errors:
        raise ValidationFailed(_summary(errors), fields=errors)

    is_learner, is_teacher = ROLES[role]
    user = User(
        username=username,
        email=email,
        is_learner=is_learner,
        is_teacher=is_teacher,
        timezone=timezone_name,
    )
    user.set_password(password)
    try:
        with transaction.atomic():
            user.save()
    except IntegrityError:
        # Lost a race with an identical registration: the constraint decided.
        raise ValidationFailed(
            "That username or email address is taken.",
            fields={"username": ["That username or email address is taken."]},
        ) from None
    return user


def _summary(errors: dict[str, list[str]]) -> str:
    name, messages = next(iter(errors.items()))
    return f"{name}: {messages[0]}"


def user_update_profile(
    *,
    user: User,
    timezone_name: str | None = None,
    theme: str | None = None,
    bio: str | None = None,
    role: str | None = None,
    email: str | None = None,
) -> User:
    """Change the editable profile fields that are given (None = unchanged)."""
    update_fields: list[str] = []
    if timezone_name is not None:
        _check_timezone(timezone_name)
        user.timezone = timezone_name
        update_fields.append("timezone")
    if theme is not None:
        if theme not in User.Theme.values:
            raise ValidationFailed(
                "Theme must be system, light or dark.",
                fields={"theme": [f'"{theme}" is not a theme; use system, light or dark.']},
            )
        user.theme = theme
        update_fields.append("theme")
    if bio is not None:
        if len(bio) > 2000:
            raise ValidationFailed(
                "The bio is limited to 2,000 characters.",
                fields={"bio": ["Keep it under 2,000 characters."]},
            )
        user.bio = bio
        update_fields.append("bio")
    if role is not None:
        user.is_learner, user.is_teacher = _role_flags(role)
        update_fields += ["is_learner", "is_teacher"]
    if email is not None and email.strip().lower() != user.email.lower():
        email = email.strip()
        try:
            validate_email(email)
        except ValidationError:
            raise ValidationFailed(
                "Enter a valid email address.", fields={"email": ["Enter a valid email address."]}
            ) from None
        if User.objects.filter(email__iexact=email).exclude(pk=user.pk).exists():
            raise ValidationFailed(
                "An account with that email address already exists.",
                fields={"email": ["An account with that email address already exists."]},
            )
        user.email = email
        update_fields.append("email")
    if update_fields:
        user.save(update_fields=update_fields)
    return user


def login_attempt_register(*, username: str, client_ip: str) -> None:
    """Count a login attempt; raises ``RateLimited`` past ``LOGIN_RATE_LIMIT`` per account and per IP."""
    limit, window = parse_rate(settings.LOGIN_RATE_LIMIT)
    message = "Too many login attempts. Wait a few minutes and try again."
    rate_limit_hit(
        scope=f"login:user:{username.strip().lower()}", limit=limit, window=window, message=message
    )
    rate_limit_hit(scope=f"login:ip:{client_ip}", limit=limit * 5, window=window, message=message)


def notification_send(
    *, user: User, kind: str, title: str, body: str = "", url: str = ""
) -> Notification:
    """Store a notification and push it to the user's open sockets after commit."""
    notification = Notification.objects.create(
        user=user, kind=kind, title=title[:200], body=body, url=url
    )
    send_on_commit(
        user_group(user.pk),
        {"type": "notification.created", "notification": notification_payload(notification)},
    )
    return notification


def notification_mark_read(*, user: User, notification_id: int) -> Notification:
    """Mark one of the user's notifications read (``NotFound`` for anyone else's)."""
    notification = notification_get_for_user(user=user, notification_id=notification_id)
    if notification.read_at is None:
        notification.read_at = timezone.now()
        notification.save(update_fields=["read_at"])
        _push_unread_count(user)
    return notification


def notification_mark_all_read(*, user: User) -> int:
    count = Notification.objects.filter(user=user, read_at__isnull=True).update(
        read_at=timezone.now()
    )
    if count:
        _push_unread_count(user)
    return count


def _push_unread_count(user: User) -> None:
    # Other open tabs update their bell too.
    send_on_commit(
        user_group(user.pk),
        {"type": "notification.unread", "count": notification_unread_count(user=user)},
    )
