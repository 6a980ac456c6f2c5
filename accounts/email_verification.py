"""Email verification by a signed link, without telling anyone which addresses are registered.

The link carries the user's id and the address it was sent to, signed with the
``SECRET_KEY`` (``django.core.signing.TimestampSigner``) and valid for
``EMAIL_VERIFICATION_MAX_AGE`` seconds. When the address already belongs to a verified
account, the owner of that account gets a "someone tried to use your address" note
instead of a link, and the person who typed it sees exactly what they would have seen
otherwise. Mails leave after the transaction commits (console backend with ``DEBUG``).
"""

from django.conf import settings
from django.core import signing
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.urls import reverse

from accounts.models import User
from skilllink.errors import Conflict, ValidationFailed

_SALT = "accounts.email-verification"


def email_verification_token(*, user: User) -> str:
    return signing.TimestampSigner(salt=_SALT).sign_object({"u": user.pk, "e": user.email.lower()})


def email_verification_url(*, user: User, base_url: str) -> str:
    path = reverse("accounts:email_verify", args=[email_verification_token(user=user)])
    return base_url.rstrip("/") + path


def _verified_owner(*, email: str, other_than: User) -> User | None:
    return (
        User.objects.filter(email__iexact=email, email_verified=True)
        .exclude(pk=other_than.pk)
        .first()
    )


def email_verification_send(*, user: User, base_url: str) -> None:
    """Mail ``user.email`` a verification link, or, when a verified account holds that address,
    mail that account a note that someone tried to use it. The caller says the same either way."""
    owner = _verified_owner(email=user.email, other_than=user)
    if owner is not None:
        subject = "Someone tried to use your email address on SkillLink"
        body = (
            f"Hello {owner.username},\n\n"
            f"Someone just gave this address ({owner.email}) for the SkillLink account "
            f'"{user.username}". It stays unconfirmed and nothing changed on your account.\n\n'
            "If that was you, log in as yourself instead; you can reset your password "
            "from the login page. Otherwise there is nothing to do.\n"
        )
        recipient = owner.email
    else:
        url = email_verification_url(user=user, base_url=base_url)
        hours = settings.EMAIL_VERIFICATION_MAX_AGE // 3600
        subject = "Confirm your email address for SkillLink"
        body = (
            f"Hello {user.username},\n\n"
            f"Open this link to confirm that {user.email} is yours (valid {hours} hours):\n\n"
            f"{url}\n\n"
            "If you did not sign up for SkillLink, ignore this message.\n"
        )
        recipient = user.email
    transaction.on_commit(
        lambda: send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [recipient])
    )


def email_verify(*, token: str) -> User:
    """Mark the address in ``token`` verified. ``ValidationFailed`` (``link_expired``,
    ``link_invalid``) for an old, tampered or outdated link (the address changed since);
    ``Conflict`` (``email_taken``) when another account verified the address first."""
    try:
        claims = signing.TimestampSigner(salt=_SALT).unsign_object(
            token, max_age=settings.EMAIL_VERIFICATION_MAX_AGE
        )
    except signing.SignatureExpired:
        raise ValidationFailed(
            "This link has expired. Send yourself a new one from your profile.",
            code="link_expired",
        ) from None
    except signing.BadSignature:
        raise ValidationFailed("This link is not valid.", code="link_invalid") from None
    user = User.objects.filter(pk=claims.get("u")).first() if isinstance(claims, dict) else None
    if user is None or user.email.lower() != claims.get("e"):
        raise ValidationFailed(
            "This link is for an address that is no longer on the account.", code="link_invalid"
        )
    if user.email_verified:
        return user
    if _verified_owner(email=user.email, other_than=user) is not None:
        raise Conflict("Another account already uses this address.", code="email_taken")
    user.email_verified = True
    try:
        with transaction.atomic():
            user.save(update_fields=["email_verified"])
    except IntegrityError:  # verified by another account meanwhile: the index decided
        user.email_verified = False
        raise Conflict("Another account already uses this address.", code="email_taken") from None
    return user
