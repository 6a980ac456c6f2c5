"""Writes for accounts: registration, profile changes, teaching skills, notifications."""

from collections.abc import Sequence
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import password_validation
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, connection, transaction
from django.db.models import Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.text import slugify

from accounts.models import Notification, Skill, TeacherSkill, User, validate_timezone
from accounts.selectors import (
    notification_get_for_user,
    notification_payload,
    notification_unread_count,
)
from accounts.signals import teacher_skill_removed
from skilllink.errors import Forbidden, NotFound, RateLimited, ValidationFailed
from skilllink.ratelimit import counter_add, counter_get, counter_reset, parse_rate, wait_text
from skilllink.realtime import send_all_on_commit, send_on_commit, user_group

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


def user_lock(*, user: User) -> None:
    """Lock ``user``'s row until the transaction ends: their bookings, slots and credits
    are written one request at a time, so checks made under the lock cannot race. Call
    inside a transaction. On SQLite it does nothing: transactions there begin IMMEDIATE
    (settings), so writers already run one at a time."""
    if connection.features.has_select_for_update:
        User.objects.select_for_update().filter(pk=user.pk).values_list("pk").first()


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
    time_format: str | None = None,
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
    if time_format is not None:
        if time_format not in User.TimeFormat.values:
            raise ValidationFailed(
                "Time format must be auto, 24 or 12.",
                fields={
                    "time_format": [f'"{time_format}" is not a time format; use auto, 24 or 12.']
                },
            )
        user.time_format = time_format
        update_fields.append("time_format")
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


SKILL_NAME_MAX_LENGTH = Skill._meta.get_field("name").max_length
TEACHER_SKILL_BLURB_MAX_LENGTH = TeacherSkill._meta.get_field("blurb").max_length


def skill_slug(name: str) -> str:
    """The slug a skill name gets; "" when the name has no letters or digits.

    ``+`` and ``#`` are spelled out so that C, C++ and C# stay three skills.
    """
    return slugify(name.replace("+", " plus ").replace("#", " sharp "))


def _skill_name_clean(name: str) -> tuple[str, str, str]:
    """``(name, slug, problem)``: whitespace collapsed, its slug, and why it is refused ("" if fine)."""
    name = " ".join(name.split())
    slug = skill_slug(name)
    if not name:
        return name, slug, "Name the skill."
    if len(name) > SKILL_NAME_MAX_LENGTH:
        return name, slug, f"Keep the skill name to {SKILL_NAME_MAX_LENGTH} characters or fewer."
    if not slug:
        return name, slug, "A skill name needs at least one letter or digit (A-Z, 0-9)."
    return name, slug, ""


def skill_get_or_create(*, name: str) -> Skill:
    """The skill called ``name`` (case-insensitively, or whose slug it matches), created if new.

    Raises ``ValidationFailed`` with ``fields["name"]`` for an empty, too long or
    letterless name. Safe against a concurrent creation of the same skill.
    """
    name, slug, problem = _skill_name_clean(name)
    if problem:
        raise ValidationFailed(problem, fields={"name": [problem]})
    existing = _skill_find(name=name, slug=slug)
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            return Skill.objects.create(name=name, slug=slug)
    except IntegrityError:
        # Someone created it (same name in another case, or same slug) meanwhile.
        existing = _skill_find(name=name, slug=slug)
        if existing is None:
            raise
        return existing


def _skill_find(*, name: str, slug: str) -> Skill | None:
    return (
        Skill.objects.filter(name__iexact=name).first() or Skill.objects.filter(slug=slug).first()
    )


def teacher_skill_add(
    *,
    teacher: User,
    skill_name_or_slug: str,
    level: str = TeacherSkill.Level.INTERMEDIATE,
    blurb: str = "",
) -> TeacherSkill:
    """Say that ``teacher`` teaches a skill (an existing one by name or slug, else a new one).

    Adding a skill the teacher already has replaces its level and blurb. Raises
    ``Forbidden`` for non-teachers and ``ValidationFailed`` (fields ``skill``,
    ``level``, ``blurb``) for bad input; a refusal creates nothing.
    """
    if not teacher.is_teacher:
        raise Forbidden("Only teachers can add teaching skills.")
    blurb = blurb.strip()
    errors: dict[str, list[str]] = {}
    _, _, skill_problem = _skill_name_clean(skill_name_or_slug)
    if skill_problem:
        errors["skill"] = [skill_problem]
    if level not in TeacherSkill.Level.values:
        errors["level"] = [f'"{level}" is not a level; use beginner, intermediate or expert.']
    if len(blurb) > TEACHER_SKILL_BLURB_MAX_LENGTH:
        errors["blurb"] = [
            f"Keep the blurb to {TEACHER_SKILL_BLURB_MAX_LENGTH} characters or fewer "
            f"(it has {len(blurb)})."
        ]
    if errors:
        # Each message names its subject, so the first one reads well alone on a page.
        raise ValidationFailed(next(iter(errors.values()))[0], fields=errors)
    skill = skill_get_or_create(name=skill_name_or_slug)
    # update_or_create locks an existing row and re-reads after a lost insert race.
    teacher_skill, _ = TeacherSkill.objects.update_or_create(
        teacher=teacher, skill=skill, defaults={"level": level, "blurb": blurb}
    )
    return teacher_skill


def teacher_skill_remove(*, teacher: User, slug: str) -> int:
    """Stop teaching the skill ``slug``: ``Forbidden`` for non-teachers, ``NotFound`` if not theirs.

    Sends ``teacher_skill_removed`` in the same transaction, so apps that offer the skill
    (scheduling: open slots for it become "any of my skills" slots) follow. Returns what
    the receivers report changed (open slots moved).
    """
    if not teacher.is_teacher:
        raise Forbidden("Only teachers can remove teaching skills.")
    with transaction.atomic():
        removed = TeacherSkill.objects.filter(teacher=teacher, skill__slug=slug).select_related(
            "skill"
        )
        skill = removed.first()
        if skill is None:
            raise NotFound("You do not teach that skill.")
        removed.delete()
        answers = teacher_skill_removed.send(
            sender=TeacherSkill, teacher=teacher, skill=skill.skill
        )
    return sum(answer for _, answer in answers if isinstance(answer, int))


def teacher_skill_scores_set(
    *, score, teacher_id: int | None = None, default: float | None = None
) -> int:
    """Store the ranking score (computed by ``credits``) on a teacher's ``TeacherSkill`` rows,
    or with no ``teacher_id`` on every row, ``score`` then being a per-row expression and
    ``default`` the value where it is NULL. Returns the rows updated."""
    rows = TeacherSkill.objects.all()
    if teacher_id is not None:
        rows = rows.filter(teacher_id=teacher_id)
    if default is not None:
        score = Coalesce(score, Value(default))
    return rows.update(score=score)


# --- Login limits ---------------------------------------------------------------------
# Only failures count, so switching accounts or logging in often never locks anyone out:
# - per account and address (LOGIN_RATE_LIMIT, 5 per 30 minutes): a guesser at one
#   address is stopped; a success there clears that pair's count;
# - per address across accounts (LOGIN_ADDRESS_RATE_LIMIT): one address spraying many
#   accounts is stopped;
# - per account from everywhere (LOGIN_ACCOUNT_FLOOD): a flood against one account from
#   many addresses slows that account's logins from unknown addresses to one attempt per
#   LOGIN_FLOOD_INTERVAL seconds, and never touches the address the owner last logged in
#   from. No one can lock an owner out from afar.


def _login_scopes(username: str, address: str) -> tuple[str, str, str]:
    account = username.strip().lower()
    return f"login:pair:{account}:{address}", f"login:address:{address}", f"login:account:{account}"


def _login_refusal(wait: int) -> RateLimited:
    return RateLimited(f"Too many failed logins. Try again in {wait_text(wait)}.", retry_after=wait)


def login_limits_check(*, username: str, address: str) -> None:
    """Before checking a password: ``RateLimited`` (with the wait) when a limit is reached."""
    pair, by_address, account = _login_scopes(username, address)
    for scope, rate in (
        (pair, settings.LOGIN_RATE_LIMIT),
        (by_address, settings.LOGIN_ADDRESS_RATE_LIMIT),
    ):
        limit, window = parse_rate(rate)
        count, wait = counter_get(scope=scope, window=window)
        if count >= limit:
            raise _login_refusal(wait)
    limit, window = parse_rate(settings.LOGIN_ACCOUNT_FLOOD)
    count, _ = counter_get(scope=account, window=window)
    if count < limit:
        return
    known = (
        User.objects.filter(username__iexact=username.strip())
        .values_list("last_login_address", flat=True)
        .first()
    )
    if known and known == address:
        return  # the owner's own address is never slowed by others' failures
    interval = settings.LOGIN_FLOOD_INTERVAL
    if not cache.add(f"{account}:slow", 1, timeout=interval):
        raise _login_refusal(interval)


def login_failure_record(*, username: str, address: str) -> None:
    """A wrong password (or unknown account): count it for the three limits."""
    for scope, rate in zip(
        _login_scopes(username, address),
        (
            settings.LOGIN_RATE_LIMIT,
            settings.LOGIN_ADDRESS_RATE_LIMIT,
            settings.LOGIN_ACCOUNT_FLOOD,
        ),
        strict=True,
    ):
        counter_add(scope=scope, window=parse_rate(rate)[1])


def login_success_record(*, user: User, address: str) -> None:
    """A good login: clear this pair's failures; remember the address as the owner's."""
    pair, _, _ = _login_scopes(user.username, address)
    counter_reset(scope=pair, window=parse_rate(settings.LOGIN_RATE_LIMIT)[1])
    if user.last_login_address != address:
        user.last_login_address = address[:45]
        User.objects.filter(pk=user.pk).update(last_login_address=user.last_login_address)


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


def notifications_send(
    *,
    notices: Sequence[tuple[User, dict[str, str]]],
    pushes_before: Sequence[tuple[str, dict]] = (),
) -> list[Notification]:
    """``notification_send`` for several at once: one INSERT, each pushed after commit.

    ``notices`` are ``(user, {"kind", "title", "body"?, "url"?})`` pairs, stored in order.
    ``pushes_before`` are other ``(group, event)`` pushes of the same change, sent first:
    all of them leave in one hop to the event loop.
    """
    rows = Notification.objects.bulk_create(
        [
            Notification(
                user=user,
                kind=notice["kind"],
                title=notice["title"][:200],
                body=notice.get("body", ""),
                url=notice.get("url", ""),
            )
            for user, notice in notices
        ]
    )
    send_all_on_commit(
        [
            *pushes_before,
            *(
                (
                    user_group(notification.user_id),
                    {
                        "type": "notification.created",
                        "notification": notification_payload(notification),
                    },
                )
                for notification in rows
            ),
        ]
    )
    return rows


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


PREMIUM_PERIOD = timedelta(days=30)


def payment_charge(*, user: User, plan: str) -> str:
    """Take payment for ``plan`` and return a receipt reference.

    Simulated: always succeeds. A real provider plugs in here; raise ``AppError``
    (code ``payment_failed``, status 402) to refuse, and nothing else changes.
    """
    return f"simulated-{plan}-{user.pk}-{timezone.now():%Y%m%d%H%M%S}"


@transaction.atomic
def subscription_upgrade(*, user: User, now: datetime | None = None) -> User:
    """Premium until max(now, current expiry) + 30 days, effective on the next request."""
    now = now or timezone.now()
    locked = User.objects.select_for_update().get(pk=user.pk)
    payment_charge(user=locked, plan="premium-30d")
    base = now
    if locked.is_premium(now) and locked.subscription_expiry:
        base = max(now, locked.subscription_expiry)
    locked.subscription_type = User.Plan.PREMIUM
    locked.subscription_expiry = base + PREMIUM_PERIOD
    locked.save(update_fields=["subscription_type", "subscription_expiry"])
    notification_send(
        user=locked,
        kind="plan.upgraded",
        title="Welcome to premium",
        body=f"Book as many sessions as you like until {locked.subscription_expiry:%b %d, %Y}.",
        url="/upgrade/",
    )
    user.subscription_type = locked.subscription_type
    user.subscription_expiry = locked.subscription_expiry
    return locked
