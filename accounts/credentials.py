"""Writes for credentials: revoking a user's tokens and sockets, logging a refresh token out."""

from django.db import transaction
from django.db.models import F
from django.utils import timezone
from rest_framework_simplejwt.exceptions import InvalidToken, TokenError
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken

from accounts.models import User
from skilllink.jwt_auth import RefreshToken, algorithm_check
from skilllink.realtime import send_on_commit, user_sockets_group


@transaction.atomic
def user_tokens_revoke(*, user: User) -> int:
    """Refuse every token issued to ``user`` so far and close their open sockets.

    Moves ``token_generation`` on (access tokens of the old generation are refused by
    ``skilllink.jwt_auth``), blacklists every outstanding refresh token, and after commit
    tells each of the user's sockets to close (4401). Returns the refresh tokens
    blacklisted. Called by ``User.save`` on a password change or a deactivation.
    """
    User.objects.filter(pk=user.pk).update(token_generation=F("token_generation") + 1)
    user.refresh_from_db(fields=["token_generation"])
    outstanding = OutstandingToken.objects.filter(
        user=user, expires_at__gt=timezone.now(), blacklistedtoken__isnull=True
    )
    blacklisted = BlacklistedToken.objects.bulk_create(
        [BlacklistedToken(token=token) for token in outstanding], ignore_conflicts=True
    )
    send_on_commit(user_sockets_group(user.pk), {"type": "auth.revoked"})
    return len(blacklisted)


def refresh_token_revoke(*, raw_token: str) -> None:
    """Log out a refresh token: blacklisted, it can never be used again. ``InvalidToken``
    when it is not a valid refresh token (already used, logged out, expired, forged)."""
    algorithm_check(raw_token)
    try:
        RefreshToken(raw_token).blacklist()
    except TokenError as error:
        raise InvalidToken(error.args[0]) from None
