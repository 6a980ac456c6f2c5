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
        "httptools",
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
