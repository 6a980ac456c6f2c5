"""The server launcher's settings (``skilllink/serve.py``)."""

import logging

import pytest

from skilllink import serve


def test_defaults_are_a_single_uvloop_httptools_worker_on_loopback(monkeypatch):
    for name in ("HOST", "PORT", "WEB_CONCURRENCY", "REDIS_URL", "ACCESS_LOG", "DEBUG"):
        monkeypatch.delenv(name, raising=False)
    options = serve.options()
    assert (options["host"], options["port"], options["workers"]) == ("127.0.0.1", 8000, 1)
    assert (options["loop"], options["http"], options["ws"]) == (
        "uvloop",
        "skilllink.serve:TimedHttpToolsProtocol",  # httptools with request deadlines
        "websockets-sansio",
    )
    assert options["lifespan"] == "on"
    assert options["access_log"] is False  # production default; DEBUG turns it on
    monkeypatch.setenv("DEBUG", "1")
    assert serve.options()["access_log"] is True


def test_several_workers_need_redis(monkeypatch):
    monkeypatch.delenv("REDIS_URL", raising=False)
    monkeypatch.setenv("WEB_CONCURRENCY", "2")
    with pytest.raises(SystemExit, match="REDIS_URL"):
        serve.options()
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:6379/0")
    assert serve.options()["workers"] == 2


@pytest.mark.parametrize(
    "path",
    [
        "/ws/meetings/7/?token=eyJhbGciOiJIUzI1NiJ9.eyJ1c2VyX2lkIjoxfQ.c2lnbmF0dXJl",
        "/ws/notifications/?x=1&token=abc.def.ghi",
    ],
)
def test_socket_tokens_never_reach_the_log(path):
    record = logging.LogRecord(
        "uvicorn.error",
        logging.INFO,
        __file__,
        1,
        '%s - "WebSocket %s" [accepted]',
        ("127.0.0.1:5000", path),
        None,
    )
    assert serve.RedactTokens().filter(record)
    line = record.getMessage()
    assert "token=[redacted]" in line
    assert path.rsplit("token=", 1)[1] not in line


def test_forwarded_headers_are_trusted_only_from_configured_proxies(monkeypatch):
    monkeypatch.delenv("FORWARDED_ALLOW_IPS", raising=False)
    assert serve.options()["proxy_headers"] is False
    monkeypatch.setenv("FORWARDED_ALLOW_IPS", "127.0.0.1")
    options = serve.options()
    assert options["proxy_headers"] is True and options["forwarded_allow_ips"] == "127.0.0.1"


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_client_cannot_dodge_login_limits_by_rotating_x_forwarded_for():
    """On the real server: without a configured proxy, X-Forwarded-For is ignored, so five
    failures from one client block it whatever addresses it claims; behind a trusted proxy
    the header is the client's address."""
    import json
    import urllib.error
    import urllib.request

    from tests.factories import make_learner
    from tests.live_server import live_servers

    make_learner(username="ada")

    def attempt(server, forwarded_for: str) -> int:
        request = urllib.request.Request(
            f"{server.url}/api/auth/token/",
            data=json.dumps({"username": "ada", "password": "wrong-wrong"}).encode(),
            headers={"Content-Type": "application/json", "X-Forwarded-For": forwarded_for},
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status
        except urllib.error.HTTPError as error:
            return error.code

    with live_servers() as start:
        direct = start()
        results = [attempt(direct, f"10.1.0.{n}") for n in range(6)]
        assert results == [401] * 5 + [429]
        proxied = start(extra_env={"FORWARDED_ALLOW_IPS": "127.0.0.1"})
        assert [attempt(proxied, f"10.2.0.{n}") for n in range(6)] == [401] * 6


def _read_all(sock) -> bytes:
    """Everything the server sends until it closes the connection (or 10 s pass)."""
    sock.settimeout(10)
    chunks = []
    while True:
        chunk = sock.recv(4096)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_half_sent_requests_are_dropped_after_the_timeouts_while_others_are_served():
    """Slowloris: a client that sends nothing, half a request head, or half a body gets 408
    and loses its connection after HTTP_HEADER_TIMEOUT / HTTP_BODY_TIMEOUT seconds; a
    normal client is served meanwhile (a complete request is never cut)."""
    import socket
    import time
    import urllib.request

    from tests.live_server import live_servers

    with live_servers() as start:
        server = start(extra_env={"HTTP_HEADER_TIMEOUT": "1.5", "HTTP_BODY_TIMEOUT": "1.5"})
        address = ("127.0.0.1", server.port)
        silent = socket.create_connection(address)
        half_head = socket.create_connection(address)
        half_head.sendall(b"GET /healthz/ HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        half_body = socket.create_connection(address)
        half_body.sendall(
            b"POST /api/auth/token/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b'Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"username": '
        )
        started = time.monotonic()
        # Meanwhile, another client is served at once.
        with urllib.request.urlopen(f"{server.url}/healthz/", timeout=5) as response:
            assert response.status == 200
        assert time.monotonic() - started < 1.5
        for sock in (silent, half_head, half_body):
            answer = _read_all(sock)
            waited = time.monotonic() - started
            assert answer.startswith(b"HTTP/1.1 408"), answer
            assert 1.0 < waited < 6, waited
            sock.close()
        # A slow but steady body (a pause shorter than the timeout between reads) is fine.
        steady = socket.create_connection(address)
        body = b'{"username": "nobody", "password": "wrong-password"}'
        steady.sendall(
            b"POST /api/auth/token/ HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
            b"Content-Type: application/json\r\nContent-Length: "
            + str(len(body)).encode()
            + b"\r\n\r\n"
        )
        for piece in (body[:20], body[20:40], body[40:]):
            time.sleep(0.8)
            steady.sendall(piece)
        assert _read_all(steady).startswith(b"HTTP/1.1 401")
        steady.close()
        assert "no complete request head in time" in server.output()


@pytest.mark.django_db
def test_calendar_feed_tokens_never_reach_the_log(client, caplog):
    """The access-log filter rewrites the feed's token, and Django's own "Not Found"
    warning for a wrong token goes through the same filter (settings.LOGGING)."""
    from skilllink.log_filters import redact

    assert (
        redact('GET /calendar/Abc-123_xyz.ics?x=1 HTTP/1.1" 200')
        == 'GET /calendar/[redacted].ics?x=1 HTTP/1.1" 200'
    )
    assert redact("POST /calendar/reset/ HTTP/1.1") == "POST /calendar/reset/ HTTP/1.1"
    handler = logging.getLogger("django").handlers[0]
    records = []
    handler_emit = handler.emit
    handler.emit = records.append
    try:
        assert client.get("/calendar/SeCrEt-feed-token.ics").status_code == 404
    finally:
        handler.emit = handler_emit
    lines = [handler.format(record) for record in records]
    assert any("/calendar/[redacted].ics" in line for line in lines), lines
    assert not any("SeCrEt-feed-token" in line for line in lines)
