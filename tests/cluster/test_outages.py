"""Outages of PostgreSQL and Redis degrade the site, never crash it, and it recovers by
itself (issue 14, point 6).

Each test runs a live server on a PostgreSQL cluster or a redis-server of its own, on a
spare port (the shared services are never stopped), stops it, checks what people and
scripts get meanwhile, starts it again, and checks that the same server process recovers.
"""

import asyncio
import http.cookiejar
import json
import os
import re
import subprocess
import time
import urllib.error
import urllib.request

import pytest
import websockets
from channels.db import database_sync_to_async

from tests.conftest import access_token_for, next_frame, until
from tests.factories import PASSWORD, make_learner
from tests.live_server import PYTHON, live_servers, start_server

RECOVERY_TIMEOUT = 30.0


class Browser:
    """Cookies and CSRF like a person's browser, over urllib."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
        )

    def fetch(self, path: str, *, data: bytes | None = None, headers=None, timeout=15):
        """(status, body text, headers) of ``path``; redirects followed."""
        request = urllib.request.Request(self.base + path, data=data, headers=headers or {})
        try:
            with self.opener.open(request, timeout=timeout) as response:
                return response.status, response.read().decode(), response.headers
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode(), error.headers

    def log_in(self, username: str, password: str) -> int:
        _, page, _ = self.fetch("/accounts/login/")
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
        form = urllib.parse.urlencode(
            {"csrfmiddlewaretoken": token, "username": username, "password": password}
        ).encode()
        status, _, _ = self.fetch("/accounts/login/", data=form)
        return status

    def api(self, path: str, *, body: dict | None = None, token: str | None = None):
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        data = json.dumps(body).encode() if body is not None else None
        status, text, response_headers = self.fetch(path, data=data, headers=headers)
        return status, json.loads(text) if text else None, response_headers


def eventually(check, timeout: float = RECOVERY_TIMEOUT):
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(0.5)


def test_pages_and_api_answer_503_while_postgres_is_down_and_recover_without_a_restart(
    private_postgres,
):
    env = {**os.environ, "DATABASE_URL": private_postgres.url, "DEBUG": "1"}
    env["DJANGO_SUPERUSER_PASSWORD"] = PASSWORD
    subprocess.run(
        [
            str(PYTHON),
            "manage.py",
            "createsuperuser",
            "--noinput",
            "--username",
            "ada",
            "--email",
            "ada@example.com",
        ],
        env=env,
        check=True,
        capture_output=True,
        timeout=120,
    )
    server = start_server(
        database_url=private_postgres.url, extra_env={"DATABASE_POOL_TIMEOUT": "2"}
    )
    try:
        person = Browser(server.url)
        assert person.log_in("ada", PASSWORD) == 200  # redirected to the dashboard
        assert person.fetch("/dashboard/")[0] == 200
        status, body, _ = person.api(
            "/api/auth/token/", body={"username": "ada", "password": PASSWORD}
        )
        assert status == 200
        access = body["access"]
        assert person.api("/api/me/", token=access)[0] == 200

        private_postgres.stop()

        started = time.monotonic()
        # People get a page that says what happened; scripts get the error shape.
        status, page, headers = person.fetch("/dashboard/")
        assert status == 503, page[:500]
        assert "SkillLink is briefly unavailable" in page and "Traceback" not in page
        assert headers["Retry-After"] == "10"
        for path, body, token in (
            ("/api/me/", None, access),
            ("/api/auth/token/", {"username": "ada", "password": PASSWORD}, None),
        ):
            status, error, _ = person.api(path, body=body, token=token)
            assert status == 503, (path, error)
            assert error["code"] == "database_unavailable" and error["detail"], error
        status, health, _ = person.api("/healthz/")
        assert status == 503
        assert health == {
            "status": "unavailable",
            "database": "down",
            "cache": "ok",
            "channel_layer": "ok",
        }
        # Each answer came within the pool's wait (2 s), not a hang.
        assert time.monotonic() - started < 4 * 4, time.monotonic() - started
        assert "Traceback" not in server.output()

        private_postgres.start()

        # The same process, no restart: pooled connections are checked and replaced.
        assert eventually(lambda: person.api("/healthz/")[0] == 200), server.output()[-3000:]
        assert person.fetch("/dashboard/")[0] == 200
        assert person.api("/api/me/", token=access)[0] == 200
        assert server.process.poll() is None
    finally:
        print(server.output()[-5000:])
        server.stop()


@pytest.mark.django_db(transaction=True)
async def test_login_and_pages_work_while_redis_is_down_and_sockets_say_live_updates_paused(
    private_redis,
):
    user = await database_sync_to_async(make_learner)(username="ada")
    with live_servers() as start:
        server = await asyncio.to_thread(start, redis_url=private_redis.url)
        bell_url = f"{server.ws_url}/ws/notifications/?token={access_token_for(user)}"
        async with websockets.connect(bell_url, open_timeout=5) as bell:
            assert (await next_frame(bell))["type"] == "unread"

            private_redis.stop()

            paused = await until(bell, "live", timeout=10)
            assert paused["state"] == "paused" and paused["detail"]

            def during_outage():
                person = Browser(server.url)
                assert person.log_in("ada", PASSWORD) == 200
                assert person.fetch("/dashboard/")[0] == 200
                wrong = person.api(
                    "/api/auth/token/", body={"username": "ada", "password": "not-it"}
                )
                assert (wrong[0], wrong[1]["code"]) == (401, "invalid_credentials")
                good = person.api(
                    "/api/auth/token/", body={"username": "ada", "password": PASSWORD}
                )
                assert good[0] == 200
                status, health, _ = person.api("/healthz/")
                assert status == 503
                assert health == {
                    "status": "unavailable",
                    "database": "ok",
                    "cache": "down",
                    "channel_layer": "down",
                }

            await asyncio.to_thread(during_outage)
            # A socket opened now is told to try again later (the page reconnects).
            async with websockets.connect(bell_url, open_timeout=5) as late:
                with pytest.raises(websockets.ConnectionClosed) as closed:
                    await next_frame(late)
                assert closed.value.rcvd.code == 1013
            assert "rate limits let requests through" in server.output()

            private_redis.start()

            # The open socket recovers by itself: live again, then the catch-up.
            resumed = await until(bell, "live", timeout=RECOVERY_TIMEOUT)
            assert resumed["state"] == "live"
            await until(bell, "resync", timeout=5)
            healthy = await asyncio.to_thread(
                eventually, lambda: Browser(server.url).api("/healthz/")[0] == 200
            )
            assert healthy
