"""Browser-facing armour (issue 14, point 7): the Content-Security-Policy, the other
security headers, the Permissions-Policy that only the room relaxes, the WebSocket
Origin rule (scheme, host and port), and ``check --deploy`` with production settings.

The browser tests (tests/e2e/) fail on any CSP violation Chromium reports, so the pages
they walk are checked for real; the template scan below catches the markup that would
break the policy on pages no browser test opens.
"""

import os
import re
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import override_settings

from skilllink.asgi import application
from skilllink.security import permissions_policy
from skilllink.ws_auth import origin_allowed
from tests.conftest import access_token_for, scheduled_booking
from tests.factories import make_learner

BASE_DIR = Path(__file__).resolve().parent.parent


def _csp(response) -> dict[str, list[str]]:
    header = response.headers["Content-Security-Policy"]
    directives = {}
    for part in header.split(";"):
        name, *values = part.split()
        directives[name] = values
    return directives


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/", "/accounts/login/", "/api/docs/", "/admin/login/"])
def test_pages_carry_a_strict_content_security_policy(client, path):
    response = client.get(path)
    assert response.status_code == 200
    csp = _csp(response)
    assert csp["script-src"] == ["'self'"]
    assert csp["style-src"][0] == "'self'"
    assert all(value.startswith("'nonce-") for value in csp["style-src"][1:])
    for directive in ("script-src", "style-src", "default-src"):
        assert "'unsafe-inline'" not in csp[directive]
        assert "'unsafe-eval'" not in csp[directive]
    assert csp["frame-ancestors"] == ["'none'"]
    assert csp["object-src"] == ["'none'"]
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Permissions-Policy"] == permissions_policy(media=False)
    assert "camera=()" in response.headers["Permissions-Policy"]


@pytest.mark.django_db
def test_the_style_nonce_is_fresh_per_response_and_matches_the_page(client):
    first, second = client.get("/"), client.get("/")
    nonce = _csp(first)["style-src"][1].removeprefix("'nonce-").rstrip("'")
    assert f'<style data-fullcalendar nonce="{nonce}">' in first.content.decode()
    assert _csp(second)["style-src"][1] != _csp(first)["style-src"][1]


@pytest.mark.django_db
def test_api_docs_script_is_an_external_file(client):
    page = client.get("/api/docs/").content.decode()
    script = re.search(r'<script src="([^"]*\?script[^"]*)"', page)
    assert script, "Swagger UI's initialiser must be served from a URL, not inline"
    response = client.get(script.group(1).replace("&amp;", "&"))
    assert response.status_code == 200
    assert "SwaggerUIBundle" in response.content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize("opens_in", [timedelta(minutes=5), timedelta(days=2)])
def test_only_the_room_and_its_waiting_room_may_use_camera_and_microphone(client, opens_in):
    booking, learner, _ = scheduled_booking(starts_in=opens_in)
    client.force_login(learner)
    room = client.get(f"/sessions/{booking.pk}/room/")
    assert room.status_code == 200
    assert room.headers["Permissions-Policy"] == permissions_policy(media=True)
    assert "camera=(self)" in room.headers["Permissions-Policy"]
    assert "display-capture=(self)" in room.headers["Permissions-Policy"]
    session = client.get(f"/sessions/{booking.pk}/")
    assert "camera=()" in session.headers["Permissions-Policy"]


INLINE_SCRIPT = re.compile(
    r"<script\b(?![^>]*\bsrc=)(?![^>]*application/(?:ld\+)?json)[^>]*>", re.I
)
STYLE_ATTRIBUTE = re.compile(r"\sstyle\s*=", re.I)
HANDLER_ATTRIBUTE = re.compile(r"<[^>]*\son[a-z]+\s*=", re.I)
STYLE_ELEMENT = re.compile(r"<style\b(?![^>]*\bnonce=)[^>]*>", re.I)
JS_URL = re.compile(r"""(?:href|src|action)\s*=\s*["']\s*javascript:""", re.I)


def _templates() -> list[Path]:
    roots = [BASE_DIR / "templates"] + [
        BASE_DIR / app / "templates"
        for app in ("accounts", "scheduling", "meetings", "credits", "assistant")
    ]
    return sorted(p for root in roots if root.exists() for p in root.rglob("*.html"))


def test_no_template_holds_markup_the_policy_would_block():
    problems = []
    for path in _templates():
        text = path.read_text()
        for name, pattern in (
            ("inline <script>", INLINE_SCRIPT),
            ("style= attribute", STYLE_ATTRIBUTE),
            ("on*= handler", HANDLER_ATTRIBUTE),
            ("<style> without nonce", STYLE_ELEMENT),
            ("javascript: URL", JS_URL),
        ):
            for match in pattern.finditer(text):
                line = text.count("\n", 0, match.start()) + 1
                problems.append(f"{path.relative_to(BASE_DIR)}:{line}: {name}")
    assert _templates(), "no templates found"
    assert not problems, "\n".join(problems)


def test_the_template_scan_can_fail():
    assert INLINE_SCRIPT.search("<script>alert(1)</script>")
    assert not INLINE_SCRIPT.search('<script src="/static/x.js"></script>')
    assert not INLINE_SCRIPT.search('<script id="d" type="application/json">{}</script>')
    assert STYLE_ATTRIBUTE.search('<div style="color:red">')
    assert HANDLER_ATTRIBUTE.search('<button onclick="x()">')
    assert STYLE_ELEMENT.search("<style>p{}</style>")
    assert not STYLE_ELEMENT.search('<style nonce="{{ CSP_NONCE }}"></style>')
    assert JS_URL.search('<a href="javascript:alert(1)">')


# --- WebSocket Origin: scheme, host and port -------------------------------------------


def _scope(host: str | None, scheme: str = "ws") -> dict:
    headers = [(b"host", host.encode())] if host else []
    return {"type": "websocket", "scheme": scheme, "headers": headers}


@override_settings(ALLOWED_HOSTS=["skilllink.example", "localhost"], CSRF_TRUSTED_ORIGINS=[])
@pytest.mark.parametrize(
    ("origin", "host", "scheme", "allowed"),
    [
        ("https://skilllink.example", "skilllink.example", "wss", True),
        ("https://skilllink.example:443", "skilllink.example", "wss", True),
        ("http://localhost:8000", "localhost:8000", "ws", True),
        # scheme: an http page may not open an https site's sockets, nor the reverse
        ("http://skilllink.example", "skilllink.example", "wss", False),
        ("https://skilllink.example", "skilllink.example", "ws", False),
        # port: another service on the same host is another origin
        ("http://localhost:9999", "localhost:8000", "ws", False),
        ("http://localhost", "localhost:8000", "ws", False),
        # host
        ("https://evil.example", "skilllink.example", "wss", False),
        ("https://skilllink.example.evil.example", "skilllink.example", "wss", False),
        # the Host itself must be one of ours
        ("https://evil.example", "evil.example", "wss", False),
        # malformed
        ("null", "skilllink.example", "wss", False),
        ("https://skilllink.example:99999", "skilllink.example", "wss", False),
        ("ftp://skilllink.example", "skilllink.example", "wss", False),
        ("https://skilllink.example/path", "skilllink.example", "wss", False),
        ("https://skilllink.example", None, "wss", False),
    ],
)
def test_origin_must_match_scheme_host_and_port(origin, host, scheme, allowed):
    assert origin_allowed(origin, _scope(host, scheme)) is allowed


@override_settings(
    ALLOWED_HOSTS=["api.skilllink.example"],
    CSRF_TRUSTED_ORIGINS=["https://app.skilllink.example", "https://*.partner.example:8443"],
)
def test_trusted_origins_match_exactly_or_by_their_wildcard():
    scope = _scope("api.skilllink.example", "wss")
    assert origin_allowed("https://app.skilllink.example", scope)
    assert origin_allowed("https://app.skilllink.example:443", scope)
    assert not origin_allowed("http://app.skilllink.example", scope)
    assert not origin_allowed("https://app.skilllink.example:8443", scope)
    assert origin_allowed("https://eu.partner.example:8443", scope)
    assert not origin_allowed("https://eu.partner.example", scope)
    assert not origin_allowed("https://evilpartner.example:8443", scope)


@pytest.mark.django_db(transaction=True)
async def test_a_socket_from_another_port_of_the_same_host_is_refused():
    user = await database_sync_to_async(make_learner)()
    token = await database_sync_to_async(access_token_for)(user)
    headers = [(b"origin", b"http://localhost:9999"), (b"host", b"localhost:8000")]
    socket = WebsocketCommunicator(
        application, f"/ws/notifications/?token={token}", headers=headers
    )
    connected, code = await socket.connect()
    assert (connected, code) == (False, 4403)
    same = [(b"origin", b"http://localhost:8000"), (b"host", b"localhost:8000")]
    socket = WebsocketCommunicator(application, f"/ws/notifications/?token={token}", headers=same)
    connected, _ = await socket.connect()
    assert connected
    await socket.disconnect()


# --- check --deploy ---------------------------------------------------------------------


def test_check_deploy_passes_with_production_settings(tmp_path):
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DEBUG", "DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE"}
    }
    env.update(
        DEBUG="0",
        SECRET_KEY="prod-" + "x7Qz!9a#Lm2$Rv8@Tk4%Wn6^Yp1&Bc3*Dd5(Ee0)Ff" * 2,
        ALLOWED_HOSTS="skilllink.example",
        DATABASE_URL=f"sqlite:///{tmp_path / 'deploy.sqlite3'}",
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout
