"""Writes for accounts: registration, profile changes, teaching skills, notifications."""

import hashlib
import io
import secrets
import warnings
from collections.abc import Sequence
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.validators import validate_email
from django.db import IntegrityError, connection, transaction
from django.db.models import Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.text import slugify
from PIL import Image, ImageOps, UnidentifiedImageError

from accounts.email_verification import email_verification_send
from accounts.models import (
    HEADLINE_MAX_LENGTH,
    QUESTION_MAX_LENGTH,
    Notification,
    Skill,
    TeacherQuestion,
    TeacherSkill,
    User,
    validate_timezone,
)
from accounts.selectors import (
    notification_get_for_user,
    notification_payload,
    notification_unread_count,
    question_get_for_user,
)
from accounts.signals import teacher_skill_removed
from accounts.usernames import username_normalise, username_problem, username_skeleton
from skilllink.errors import Conflict, Forbidden, NotFound, RateLimited, ValidationFailed
from skilllink.ratelimit import (
    counter_add,
    counter_get,
    counter_reset,
    once_per,
    parse_rate,
    rate_limit_hit,
    wait_text,
)
from skilllink.realtime import send_all_on_commit, send_on_commit, user_group
from skilllink.text import text_clean

USERNAME_CONFUSABLE = "That username looks too much like an existing one; choose another."
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


def registration_problems(
    *, username: str, email: str, password: str, role: str, timezone_name: str
) -> dict[str, list[str]]:
    """Every reason the registration would be refused, by field (empty when it would not).
    The email is never refused for being registered (see ``user_register``)."""
    errors: dict[str, list[str]] = {}
    username = username_normalise(username)
    email = email.strip()
    problem = username_problem(username)
    if problem:
        errors["username"] = [problem]
    elif User.objects.filter(username__iexact=username).exists():
        errors["username"] = ["That username is taken."]
    elif User.objects.filter(username_skeleton=username_skeleton(username)).exists():
        errors["username"] = [USERNAME_CONFUSABLE]
    try:
        validate_email(email)
    except ValidationError:
        errors["email"] = ["Enter a valid email address."]
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
    return errors


def user_register(
    *,
    username: str,
    email: str,
    password: str,
    role: str,
    timezone_name: str = "UTC",
    base_url: str = "",
) -> User:
    """Create an account and mail the address a verification link (``base_url`` + path).

    Raises ``ValidationFailed`` (with ``fields``, every problem at once) and changes
    nothing on bad input. The email is never refused for being registered: the account is
    created unverified and the address's verified owner is told instead (nothing here
    reveals which addresses have accounts).
    """
    username, email = username_normalise(username), email.strip()
    errors = registration_problems(
        username=username,
        email=email,
        password=password,
        role=role,
        timezone_name=timezone_name,
    )
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
            email_verification_send(user=user, base_url=base_url)
    except IntegrityError:
        # Lost a race with a registration of the same (or a confusable) username.
        raise ValidationFailed(
            "That username is taken.", fields={"username": ["That username is taken."]}
        ) from None
    return user


def register_limit_hit(*, address: str) -> None:
    """Count a registration attempt from ``address``; ``RateLimited`` past REGISTER_RATE_LIMIT."""
    limit, window = parse_rate(settings.REGISTER_RATE_LIMIT)
    rate_limit_hit(
        scope=f"register:{address}",
        limit=limit,
        window=window,
        message="Too many sign-ups from your network. Try again later.",
    )


def email_verification_resend(*, user: User, base_url: str) -> None:
    """Mail ``user`` a fresh verification link: ``Conflict`` (``already_verified``) when the
    address is verified, ``RateLimited`` past REGISTER_RATE_LIMIT for this user."""
    if user.email_verified:
        raise Conflict("Your email address is already verified.", code="already_verified")
    limit, window = parse_rate(settings.REGISTER_RATE_LIMIT)
    rate_limit_hit(
        scope=f"verify-send:{user.pk}",
        limit=limit,
        window=window,
        message="You asked for several links already. Try again later.",
    )
    with transaction.atomic():
        email_verification_send(user=user, base_url=base_url)


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
    base_url: str = "",
    headline: str | None = None,
    time_format: str | None = None,
) -> User:
    """Change the editable profile fields that are given (None = unchanged). A new email is
    unverified until the link mailed to it (``base_url`` + path) is opened."""
    update_fields: list[str] = []
    if headline is not None:
        # One public line on teacher cards: no control or text-direction characters.
        user.headline = text_clean(
            headline,
            field="headline",
            max_length=HEADLINE_MAX_LENGTH,
            multiline=False,
            required=False,
        )
        update_fields.append("headline")
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
        user.bio = text_clean(bio, field="bio", max_length=2000, required=False)
        update_fields.append("bio")
    if role is not None:
        user.is_learner, user.is_teacher = _role_flags(role)
        update_fields += ["is_learner", "is_teacher"]
    email_changed = email is not None and email.strip().lower() != user.email.lower()
    if email_changed:
        email = email.strip()
        try:
            validate_email(email)
        except ValidationError:
            raise ValidationFailed(
                "Enter a valid email address.", fields={"email": ["Enter a valid email address."]}
            ) from None
        # Never refused for being someone else's: it stays unverified and its verified
        # owner is told (accounts.email_verification), so nothing reveals who is registered.
        user.email = email
        user.email_verified = False
        update_fields += ["email", "email_verified"]
    if update_fields:
        with transaction.atomic():
            user.save(update_fields=update_fields)
            if email_changed:
                email_verification_send(user=user, base_url=base_url)
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
    try:
        name = text_clean(name, field="name", max_length=10_000, multiline=False, required=False)
    except ValidationFailed as refusal:
        return name, "", refusal.detail
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
    try:
        text_clean(blurb, field="blurb", max_length=10_000, multiline=False, required=False)
    except ValidationFailed as refusal:
        errors["blurb"] = refusal.fields["blurb"]
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
    # The typed name is any text (up to the body limit): a digest keeps the cache keys short
    # and free of spaces and control characters (found by the schema fuzzing test).
    account = hashlib.sha256(username.strip().lower().encode()).hexdigest()[:32]
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
    if not once_per(scope=f"{account}:slow", seconds=interval):
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


def premium_price() -> dict[str, str]:
    """What 30 days of premium cost: ``{"amount": "9.00", "currency": "EUR"}`` (settings)."""
    return {"amount": settings.PREMIUM_PRICE, "currency": settings.PREMIUM_CURRENCY}


def payment_charge(*, user: User, plan: str, amount: str, currency: str) -> str:
    """Take ``amount`` ``currency`` for ``plan`` and return a receipt reference.

    Simulated: always succeeds. A real provider plugs in here; raise ``AppError``
    (code ``payment_failed``, status 402) to refuse, and nothing else changes.
    """
    return f"simulated-{plan}-{amount}{currency}-{user.pk}-{timezone.now():%Y%m%d%H%M%S}"


@transaction.atomic
def subscription_upgrade(*, user: User, now: datetime | None = None) -> User:
    """Premium until max(now, current expiry) + 30 days, effective on the next request."""
    now = now or timezone.now()
    locked = User.objects.select_for_update().get(pk=user.pk)
    payment_charge(user=locked, plan="premium-30d", **premium_price())
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


# --- Teacher photos ---------------------------------------------------------------------

PHOTO_FORMATS = frozenset({"JPEG", "PNG", "WEBP", "GIF"})
# Past this many pixels a picture is refused before it is decoded (a small file can
# declare a huge image: decoding it would take the memory of the server).
PHOTO_MAX_PIXELS = 40_000_000
PHOTO_MIN_SIDE = 64


def _photo_refused(message: str) -> ValidationFailed:
    return ValidationFailed(message, code="photo_invalid", fields={"photo": [message]})


def _photo_square(upload, *, side: int) -> Image.Image:
    """The upright centre square of the picture in ``upload``, ``side`` pixels, RGBA."""
    with Image.open(upload) as image:
        if image.format not in PHOTO_FORMATS:
            raise _photo_refused("Upload a JPEG, PNG, WebP or GIF picture.")
        width, height = image.size
        if width * height > PHOTO_MAX_PIXELS:
            raise _photo_refused("That picture is too large; 40 megapixels at most.")
        if min(width, height) < PHOTO_MIN_SIDE:
            raise _photo_refused(
                f"That picture is too small; {PHOTO_MIN_SIDE} pixels a side at least."
            )
        image.draft("RGB", (side * 2, side * 2))  # JPEG: decode at a reduced size
        upright = ImageOps.exif_transpose(image)
        return ImageOps.fit(upright.convert("RGBA"), (side, side), Image.Resampling.LANCZOS)


def _photo_square_jpeg(upload, *, side: int) -> bytes:
    """``upload`` cropped to its centre square, ``side`` pixels wide, as a JPEG with no
    metadata (EXIF, GPS, comments, profiles); ``ValidationFailed`` if it is no picture."""
    try:
        with warnings.catch_warnings():
            # Pillow warns (then refuses) past its own pixel limit: a refusal here.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            square = _photo_square(upload, side=side)
    except ValidationFailed:
        raise
    except (Image.DecompressionBombWarning, Image.DecompressionBombError):
        raise _photo_refused("That picture is too large; 40 megapixels at most.") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        raise _photo_refused("That file is not a picture we can read.") from None
    # A fresh image: nothing of the upload's metadata can travel with it.
    clean = Image.new("RGB", (side, side), (255, 255, 255))
    clean.paste(square, mask=square.getchannel("A"))
    out = io.BytesIO()
    clean.save(out, "JPEG", quality=85, optimize=True, progressive=True)
    return out.getvalue()


def user_photo_set(*, user: User, upload) -> User:
    """Replace the teacher's photo with ``upload`` (an uploaded file): checked, made a
    ``PHOTO_SIZE`` square JPEG and stored in media storage; the old file is deleted
    after commit. Refusals change nothing."""
    if not user.is_teacher:
        raise Forbidden("Only teachers show a photo on their profile.", code="teachers_only")
    size = getattr(upload, "size", None)
    if not size:
        raise _photo_refused("Choose a picture to upload.")
    if size > settings.PHOTO_MAX_BYTES:
        limit = settings.PHOTO_MAX_BYTES // (1024 * 1024)
        raise _photo_refused(f"That file is too large; {limit} MB at most.")
    data = _photo_square_jpeg(upload, side=settings.PHOTO_SIZE)
    storage = User._meta.get_field("photo").storage
    # A new name each time: browsers and proxies may cache the old picture for its URL.
    name = storage.save(f"photos/{user.pk}-{secrets.token_hex(8)}.jpg", ContentFile(data))
    try:
        return _user_photo_store(user=user, name=name)
    except BaseException:
        storage.delete(name)
        raise


@transaction.atomic
def _user_photo_store(*, user: User, name: str) -> User:
    old = User.objects.select_for_update().filter(pk=user.pk).values_list("photo", flat=True).get()
    User.objects.filter(pk=user.pk).update(photo=name)
    user.photo = name
    if old:
        storage = User._meta.get_field("photo").storage
        transaction.on_commit(lambda: storage.delete(old))
    return user


@transaction.atomic
def user_photo_remove(*, user: User) -> User:
    """Drop the user's photo (initials are shown instead); the file goes after commit."""
    old = User.objects.select_for_update().filter(pk=user.pk).values_list("photo", flat=True).get()
    if old:
        User.objects.filter(pk=user.pk).update(photo="")
        storage = User._meta.get_field("photo").storage
        transaction.on_commit(lambda: storage.delete(old))
    user.photo = ""
    return user


# --- Questions before booking -----------------------------------------------------------


@transaction.atomic
def question_ask(*, learner: User, teacher: User, body: str) -> TeacherQuestion:
    """Send ``teacher`` (a bookable teacher, the caller checked) a short question from
    ``learner``; the teacher is notified with a link to reply. One unanswered question
    per teacher at a time; ``QUESTION_RATE_LIMIT`` questions per learner."""
    body = text_clean(
        body,
        field="body",
        max_length=QUESTION_MAX_LENGTH,
        empty_message="Type your question first.",
    )
    if not learner.is_learner:
        raise Forbidden("Only learners ask teachers questions.", code="learners_only")
    if not teacher.is_teacher or teacher.pk == learner.pk:
        raise Forbidden("You can only ask another teacher.", code="forbidden")
    if TeacherQuestion.objects.filter(
        learner=learner, teacher=teacher, replied_at__isnull=True
    ).exists():
        raise Conflict(
            f"Your last question to {teacher.username} has no reply yet; wait for it first.",
            code="question_open",
        )
    hits, window = parse_rate(settings.QUESTION_RATE_LIMIT)
    rate_limit_hit(
        scope=f"question:{learner.pk}",
        limit=hits,
        window=window,
        message="You have sent several questions just now; try again later.",
    )
    try:
        with transaction.atomic():
            question = TeacherQuestion.objects.create(learner=learner, teacher=teacher, body=body)
    except IntegrityError:  # the same question sent twice at once
        raise Conflict(
            f"Your last question to {teacher.username} has no reply yet; wait for it first.",
            code="question_open",
        ) from None
    notification_send(
        user=teacher,
        kind="question.asked",
        title=f"{learner.username} asks you a question",
        body=body,
        url=f"/questions/{question.pk}/",
    )
    return question


@transaction.atomic
def question_reply(*, teacher: User, question_id: int, body: str) -> TeacherQuestion:
    """The teacher answers a question sent to them, once; the learner is notified."""
    body = text_clean(
        body,
        field="reply",
        max_length=QUESTION_MAX_LENGTH,
        empty_message="Type your reply first.",
    )
    question = question_get_for_user(user=teacher, question_id=question_id, lock=True)
    if question.teacher_id != teacher.pk:
        raise Forbidden("Only the teacher who was asked replies.", code="forbidden")
    if question.replied_at is not None:
        raise Conflict("You have already replied to this question.", code="question_answered")
    question.reply = body
    question.replied_at = timezone.now()
    question.save(update_fields=["reply", "replied_at"])
    notification_send(
        user=question.learner,
        kind="question.answered",
        title=f"{teacher.username} replied to your question",
        body=body,
        url=f"/questions/{question.pk}/",
    )
    return question
