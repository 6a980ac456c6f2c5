"""The one application error type and the JSON shape every API error takes.

Services raise :class:`AppError` (or a subclass); the DRF exception handler, the
HTML views and the WebSocket consumers all render it: ``{"code", "detail"}`` on
the API and sockets, a flash message on pages.
"""

from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.db import InterfaceError, OperationalError
from django.http import Http404, JsonResponse
from rest_framework import exceptions as drf_exceptions
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework_simplejwt.exceptions import AuthenticationFailed as JWTAuthenticationFailed
from rest_framework_simplejwt.exceptions import InvalidToken, TokenError


class AppError(Exception):
    """A refusal a client can act on: a stable ``code``, a human ``detail``, an HTTP status."""

    code = "error"
    status = 400

    def __init__(
        self,
        detail: str,
        *,
        code: str | None = None,
        status: int | None = None,
        fields: dict[str, list[str]] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status
        self.fields = fields

    def as_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "detail": self.detail}
        if self.fields:
            body["fields"] = self.fields
        return body


class ValidationFailed(AppError):
    code = "invalid"
    status = 400


class Forbidden(AppError):
    code = "forbidden"
    status = 403


class NotFound(AppError):
    """Also the answer for other people's objects: a stranger cannot tell them apart."""

    code = "not_found"
    status = 404

    def __init__(self, detail: str = "Not found.", **kwargs: Any) -> None:
        super().__init__(detail, **kwargs)


class Conflict(AppError):
    code = "conflict"
    status = 409


class RateLimited(AppError):
    code = "rate_limited"
    status = 429

    def __init__(self, detail: str, *, retry_after: int | None = None, **kwargs: Any) -> None:
        super().__init__(detail, **kwargs)
        self.retry_after = retry_after


class DatabaseUnavailable(AppError):
    """The database cannot be reached (an outage): 503, try again shortly."""

    code = "database_unavailable"
    status = 503
    retry_after = 10

    def __init__(
        self,
        detail: str = "SkillLink cannot reach its database right now. Nothing was changed; "
        "please try again in a moment.",
        **kwargs: Any,
    ) -> None:
        super().__init__(detail, **kwargs)


def _flatten_fields(detail: Any) -> dict[str, list[str]]:
    if isinstance(detail, dict):
        fields: dict[str, list[str]] = {}
        for key, value in detail.items():
            if isinstance(value, dict):
                for sub_key, sub_value in _flatten_fields(value).items():
                    fields[f"{key}.{sub_key}"] = sub_value
            elif isinstance(value, list):
                fields[key] = [str(item) for item in value]
            else:
                fields[key] = [str(value)]
        return fields
    if isinstance(detail, list):
        return {"non_field_errors": [str(item) for item in detail]}
    return {"non_field_errors": [str(detail)]}


def _first_message(fields: dict[str, list[str]]) -> str:
    for name, messages in fields.items():
        if messages:
            prefix = "" if name == "non_field_errors" else f"{name}: "
            return f"{prefix}{messages[0]}"
    return "Invalid input."


def app_error_for(exc: Exception) -> AppError | None:
    """Translate framework exceptions into :class:`AppError` (None if unknown)."""
    if isinstance(exc, AppError):
        return exc
    if isinstance(exc, drf_exceptions.ValidationError):
        fields = _flatten_fields(exc.detail)
        return ValidationFailed(_first_message(fields), fields=fields)
    if isinstance(exc, (InvalidToken, TokenError, JWTAuthenticationFailed)):
        return AppError("The access token is invalid or expired.", code="token_invalid", status=401)
    if isinstance(exc, drf_exceptions.NotAuthenticated):
        return AppError(
            "Authentication credentials were not provided.", code="not_authenticated", status=401
        )
    if isinstance(exc, drf_exceptions.AuthenticationFailed):
        if exc.get_codes() == "no_active_account":
            return AppError(
                "No active account with that username and password.",
                code="invalid_credentials",
                status=401,
            )
        return AppError(str(exc.detail), code="authentication_failed", status=401)
    if isinstance(exc, drf_exceptions.PermissionDenied):
        return Forbidden(str(exc.detail))
    if isinstance(exc, DjangoPermissionDenied):
        return Forbidden("You do not have permission to do this.")
    if isinstance(exc, (drf_exceptions.NotFound, Http404)):
        return NotFound()
    if isinstance(exc, drf_exceptions.MethodNotAllowed):
        return AppError(str(exc.detail), code="method_not_allowed", status=405)
    if isinstance(exc, drf_exceptions.NotAcceptable):
        return AppError(str(exc.detail), code="not_acceptable", status=406)
    if isinstance(exc, drf_exceptions.UnsupportedMediaType):
        return AppError(str(exc.detail), code="unsupported_media_type", status=415)
    if isinstance(exc, drf_exceptions.Throttled):
        return RateLimited(str(exc.detail), retry_after=exc.wait and int(exc.wait))
    if isinstance(exc, drf_exceptions.ParseError):
        return ValidationFailed(str(exc.detail), code="invalid")
    if isinstance(exc, drf_exceptions.APIException):
        return AppError(str(exc.detail), code=exc.default_code, status=exc.status_code)
    if isinstance(exc, (OperationalError, InterfaceError)):
        # The database is unreachable (skilllink.outages answers the same outside DRF).
        return DatabaseUnavailable()
    return None


class ErrorSerializer(serializers.Serializer):
    """The error shape, for the OpenAPI schema."""

    code = serializers.CharField()
    detail = serializers.CharField()
    fields = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()), required=False
    )


def api_exception_handler(exc: Exception, context: dict) -> Response | None:
    """DRF ``EXCEPTION_HANDLER``: every API error becomes ``{"code", "detail"[, "fields"]}``."""
    error = app_error_for(exc)
    if error is None:
        return None  # a real bug: let Django log it and answer 500
    headers = {}
    if error.status == status.HTTP_401_UNAUTHORIZED:
        headers["WWW-Authenticate"] = 'Bearer realm="api"'
    if isinstance(error, RateLimited) and error.retry_after:
        headers["Retry-After"] = str(error.retry_after)
    if isinstance(error, DatabaseUnavailable):
        headers["Retry-After"] = str(DatabaseUnavailable.retry_after)
    return Response(error.as_dict(), status=error.status, headers=headers)


def json_error_response(error: AppError) -> JsonResponse:
    return JsonResponse(error.as_dict(), status=error.status)
