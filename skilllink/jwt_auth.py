"""JSON Web Tokens that can be revoked, for the API and WebSockets alike.

- Only HS256: a token whose header names any other algorithm (``none``, ``RS256`` signed
  with the shared secret as a "public key", ...) is refused before its signature is read,
  and SimpleJWT then verifies with an explicit ``algorithms=["HS256"]`` list.
- Every token carries the user's ``token_generation`` (claim ``gen``, absent = 0). A
  password change or a deactivation moves the user's generation on
  (``accounts.credentials.user_tokens_revoke``), so every access token issued before is
  refused at once; outstanding refresh tokens are blacklisted as well.

Used by DRF (``DEFAULT_AUTHENTICATION_CLASSES``) and by ``skilllink.ws_auth``. It knows
the user model only through ``get_user_model()`` (the core imports no app).
"""

import jwt
from django.contrib.auth import get_user_model
from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme
from rest_framework_simplejwt import serializers as jwt_serializers
from rest_framework_simplejwt import settings as jwt_settings
from rest_framework_simplejwt import tokens
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import AuthenticationFailed, InvalidToken, TokenError
from rest_framework_simplejwt.settings import api_settings

ALGORITHMS = ("HS256",)
GENERATION_CLAIM = "gen"


def algorithm_check(raw_token: str | bytes) -> None:
    """``InvalidToken`` unless the token's header names HS256."""
    try:
        header = jwt.get_unverified_header(raw_token)
    except jwt.PyJWTError:
        raise InvalidToken("The token is malformed.") from None
    if header.get("alg") not in ALGORITHMS:
        raise InvalidToken("Only HS256 tokens are accepted.")


def generation_of(user) -> int:
    return getattr(user, "token_generation", 0) or 0


class AccessToken(tokens.AccessToken):
    """SimpleJWT's access token, its lifetime read from the settings when it is made (not
    when the module was imported), so ``override_settings(SIMPLE_JWT=...)`` applies."""

    @property
    def lifetime(self):
        return jwt_settings.api_settings.ACCESS_TOKEN_LIFETIME

    @classmethod
    def for_user(cls, user):
        """An access token alone (no refresh token, so nothing is written to the database)."""
        token = super().for_user(user)
        token[GENERATION_CLAIM] = generation_of(user)
        return token


class RefreshToken(tokens.RefreshToken):
    """SimpleJWT's refresh token with the user's generation; its access tokens copy it."""

    access_token_class = AccessToken

    @property
    def lifetime(self):
        return jwt_settings.api_settings.REFRESH_TOKEN_LIFETIME

    @classmethod
    def for_user(cls, user):
        token = super().for_user(user)
        token[GENERATION_CLAIM] = generation_of(user)
        return token


def token_generation_check(token, user) -> None:
    """``AuthenticationFailed`` (code ``token_revoked``) for a token of an older generation."""
    if token.get(GENERATION_CLAIM, 0) != generation_of(user):
        raise AuthenticationFailed(
            "This token was revoked (password changed or account deactivated).",
            code="token_revoked",
        )


class RevocableJWTAuthentication(JWTAuthentication):
    def get_validated_token(self, raw_token: bytes):
        algorithm_check(raw_token)
        return super().get_validated_token(raw_token)

    def get_user(self, validated_token):
        user = super().get_user(validated_token)
        token_generation_check(validated_token, user)
        return user


class TokenObtainPairSerializer(jwt_serializers.TokenObtainPairSerializer):
    token_class = RefreshToken


class TokenRefreshSerializer(jwt_serializers.TokenRefreshSerializer):
    """Rotation and blacklisting as SimpleJWT does them (settings), after refusing tokens
    of another algorithm and of an older generation (or of a user who is gone)."""

    token_class = RefreshToken

    def validate(self, attrs):
        algorithm_check(attrs["refresh"])
        try:
            refresh = self.token_class(attrs["refresh"])
        except TokenError as error:
            raise InvalidToken(error.args[0]) from None
        user = (
            get_user_model()
            .objects.filter(
                **{api_settings.USER_ID_FIELD: refresh.payload.get(api_settings.USER_ID_CLAIM)}
            )
            .first()
        )
        if user is None or not api_settings.USER_AUTHENTICATION_RULE(user):
            raise AuthenticationFailed(
                "No active account found for the given token.", code="no_active_account"
            )
        token_generation_check(refresh, user)
        return super().validate(attrs)


class RevocableJWTScheme(SimpleJWTScheme):
    """The OpenAPI security scheme: the same ``jwtAuth`` bearer scheme as SimpleJWT's."""

    target_class = "skilllink.jwt_auth.RevocableJWTAuthentication"
