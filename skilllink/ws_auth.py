"""ASGI middleware that authenticates WebSocket connections and checks their Origin.

- A browser (it sends ``Origin``) must come from one of the site's own hosts, or
  the handshake is refused. It authenticates with the session cookie or a token.
- A script (no ``Origin``) must authenticate with ``?token=<JWT access token>``;
  cookies are ignored then, so a cookie alone never authenticates a socket whose
  origin cannot be checked.

``scope["user"]`` is always set (``AnonymousUser`` when nothing authenticated);
consumers close unauthenticated sockets with 4401.
"""

from urllib.parse import parse_qs, urlsplit

from channels.auth import AuthMiddleware
from channels.db import database_sync_to_async
from channels.sessions import CookieMiddleware, SessionMiddleware
from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.http.request import split_domain_port, validate_host
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import AuthenticationFailed, InvalidToken, TokenError

CLOSE_NOT_AUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403


def _header(scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return value.decode("latin-1")
    return None


DEFAULT_PORTS = {"http": 80, "https": 443}


def _origin_triple(scheme: str, netloc: str) -> tuple[str, str, int] | None:
    """(scheme, host, port) with the default port filled in; None if malformed."""
    try:
        parts = urlsplit(f"{scheme}://{netloc}")
        port = parts.port
    except ValueError:
        return None
    if scheme not in DEFAULT_PORTS or not parts.hostname:
        return None
    return scheme, parts.hostname.lower(), port or DEFAULT_PORTS[scheme]


def origin_allowed(origin: str, scope: dict) -> bool:
    """True if ``origin`` is this site as the socket reached it: the same scheme (https
    for wss), host and port as the handshake's Host, and that host one of ALLOWED_HOSTS;
    or exactly one of CSRF_TRUSTED_ORIGINS. So ``http://`` pages cannot open the sockets
    of an https site, nor another port of the same host."""
    parts = urlsplit(origin)
    claimed = _origin_triple(parts.scheme, parts.netloc)
    if claimed is None or parts.path or parts.query:
        return False
    for trusted in settings.CSRF_TRUSTED_ORIGINS:
        trusted_parts = urlsplit(trusted)
        wildcard = trusted_parts.netloc.startswith("*.")
        netloc = trusted_parts.netloc[1:] if wildcard else trusted_parts.netloc
        expected = _origin_triple(trusted_parts.scheme, netloc.lstrip("."))
        if expected is None:
            continue
        if expected == claimed or (
            wildcard and expected[0::2] == claimed[0::2] and claimed[1].endswith(f".{expected[1]}")
        ):
            return True
    host = _header(scope, b"host")
    if not host:
        return False
    expected_scheme = "https" if scope.get("scheme") in ("wss", "https") else "http"
    if _origin_triple(expected_scheme, host) != claimed:
        return False
    domain, _port = split_domain_port(host)
    allowed = settings.ALLOWED_HOSTS
    if settings.DEBUG and not allowed:
        allowed = [".localhost", "127.0.0.1", "[::1]"]
    return bool(domain) and validate_host(domain, allowed)


@database_sync_to_async
def user_from_token(raw_token: str):
    auth = JWTAuthentication()
    try:
        validated = auth.get_validated_token(raw_token.encode())
        return auth.get_user(validated)
    except (InvalidToken, TokenError, AuthenticationFailed):
        return AnonymousUser()


class _Deny:
    """Refuse the handshake (the client sees HTTP 403) without running the app."""

    async def __call__(self, scope, receive, send):
        message = await receive()
        if message["type"] == "websocket.connect":
            await send({"type": "websocket.close", "code": CLOSE_FORBIDDEN})


class TokenOrSessionAuthMiddleware:
    def __init__(self, inner):
        self.inner = inner
        self.session_auth = CookieMiddleware(SessionMiddleware(AuthMiddleware(inner)))

    async def __call__(self, scope, receive, send):
        origin = _header(scope, b"origin")
        scope = dict(scope)
        scope["origin_checked"] = origin is not None
        if origin is not None and not origin_allowed(origin, scope):
            return await _Deny()(scope, receive, send)
        token = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("token")
        if token:
            scope["user"] = await user_from_token(token[-1])
            return await self.inner(scope, receive, send)
        if origin is None:
            scope["user"] = AnonymousUser()
            return await self.inner(scope, receive, send)
        return await self.session_auth(scope, receive, send)
