"""Run the real ASGI app (``python -m skilllink.serve``: uvicorn, the server we ship,
a separate process) against the test database.

Browser and cluster tests talk to it over real sockets. The server gets the test
process's database (the one pytest-django created; use it from a test with
``transactional_db`` so what the test writes is committed and visible), its
``SECRET_KEY`` (JWTs minted in the test verify there), ``DEBUG=1``, and Redis only
when asked, plus any ``extra_env`` a test passes (e.g. ``SKILLLINK_ICE_SERVERS``).
Every server started here is killed when its context ends, on test failure too, and
at interpreter exit as a last resort.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import quote, urlencode

BASE_DIR = Path(__file__).resolve().parent.parent
PYTHON = BASE_DIR / ".venv" / "bin" / "python"
START_TIMEOUT = 20.0
DEFAULT_TEST_REDIS_URL = "redis://127.0.0.1:6379/3"
# Pub/sub ignores the db number: a prefix per test run keeps parallel runs apart.
TEST_REDIS_PREFIX = f"skilllink-test-{os.getpid()}"

_running: set[Server] = set()


def redis_test_url() -> str:
    """The Redis the real-time tests use: a dedicated database number, flushed by them."""
    return os.environ.get("SKILLLINK_TEST_REDIS_URL", DEFAULT_TEST_REDIS_URL)


def redis_reachable(url: str) -> bool:
    import redis

    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except Exception:
        return False


def redis_flush(url: str) -> None:
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
    try:
        client.flushdb()
    finally:
        client.close()


def pubsub_layer_settings(redis_url: str) -> dict:
    """CHANNEL_LAYERS for the test process so its sends reach the servers' sockets.

    Must match what skilllink/settings.py builds from REDIS_URL (backend and prefix).
    """
    return {
        "default": {
            "BACKEND": "skilllink.channel_layer.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": [{"address": redis_url}], "prefix": TEST_REDIS_PREFIX},
        }
    }


def database_url_from_settings(settings_dict: dict) -> str:
    """A DATABASE_URL (as settings.database_from_url reads it) for the test database."""
    engine = settings_dict["ENGINE"]
    name = str(settings_dict["NAME"])
    if engine == "django.db.backends.sqlite3":
        if name == ":memory:" or name.startswith("file:") or "mode=memory" in name:
            raise RuntimeError(
                "The test database is an in-memory SQLite database; a server process "
                "cannot share it. settings.database_from_url must give TEST a file NAME."
            )
        return "sqlite:///" + str(Path(name).resolve())  # four slashes: absolute path
    if engine == "django.db.backends.postgresql":
        user = quote(settings_dict.get("USER") or "", safe="")
        password = quote(settings_dict.get("PASSWORD") or "", safe="")
        auth = f"{user}:{password}@" if password else (f"{user}@" if user else "")
        host = settings_dict.get("HOST") or "localhost"
        port = f":{settings_dict['PORT']}" if settings_dict.get("PORT") else ""
        options = {
            k: v
            for k, v in (settings_dict.get("OPTIONS") or {}).items()
            if v is not None and k != "pool"  # the server builds its own pool
        }
        query = f"?{urlencode(options)}" if options else ""
        return f"postgres://{auth}{host}{port}/{quote(name, safe='')}{query}"
    raise RuntimeError(f"No DATABASE_URL form for the {engine} backend.")


def current_database_url() -> str:
    from django.db import connection

    return database_url_from_settings(connection.settings_dict)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ServerFailedToStart(RuntimeError):
    pass


class Server:
    """One server process. ``url``/``ws_url`` have no trailing slash."""

    def __init__(
        self,
        *,
        database_url: str,
        secret_key: str,
        redis_url: str | None = None,
        extra_env: dict[str, str] | None = None,
    ):
        self.database_url = database_url
        self.redis_url = redis_url
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.ws_url = f"ws://127.0.0.1:{self.port}"
        self._log = tempfile.NamedTemporaryFile(  # noqa: SIM115 (closed in stop())
            prefix=f"server-{self.port}-", suffix=".log", delete=False
        )
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "skilllink.settings",
            "DEBUG": "1",
            "DATABASE_URL": database_url,
            "SECRET_KEY": secret_key,
            "PYTHONUNBUFFERED": "1",
            "HOST": "127.0.0.1",
            "PORT": str(self.port),
            "WEB_CONCURRENCY": "1",
        }
        env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        if redis_url:
            env["REDIS_URL"] = redis_url
            env["REDIS_PREFIX"] = TEST_REDIS_PREFIX
        else:
            env.pop("REDIS_URL", None)  # in-memory layer unless asked: nothing leaks in
        env.update(extra_env or {})
        self.process = subprocess.Popen(
            [str(PYTHON), "-m", "skilllink.serve"],
            cwd=BASE_DIR,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stop() kills children too
        )
        _running.add(self)

    def __repr__(self) -> str:
        return f"<Server {self.url} pid={self.process.pid} redis={self.redis_url}>"

    def output(self) -> str:
        try:
            return Path(self._log.name).read_text(errors="replace")
        except OSError:
            return ""

    def wait_ready(self, timeout: float = START_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        last_error = "no answer yet"
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ServerFailedToStart(
                    f"the server exited with {self.process.returncode} before it was ready:\n"
                    f"{self.output()}"
                )
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    pass
                with urllib.request.urlopen(f"{self.url}/healthz/", timeout=2) as response:
                    if response.status == 200:
                        return
                    last_error = f"/healthz/ answered {response.status}"
            except urllib.error.HTTPError as error:
                last_error = f"/healthz/ answered {error.code}"
            except OSError as error:
                last_error = str(error)
            time.sleep(0.1)
        raise ServerFailedToStart(
            f"the server on port {self.port} not ready within {timeout:.0f} s ({last_error}):\n"
            f"{self.output()}"
        )

    def stop(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=5)
        _running.discard(self)
        if not self._log.closed:
            self._log.close()
            with contextlib.suppress(OSError):
                os.unlink(self._log.name)


def start_server(
    *,
    redis_url: str | None = None,
    database_url: str | None = None,
    extra_env: dict[str, str] | None = None,
    attempts: int = 3,
) -> Server:
    """Start a server on a free port against the current (test) database and wait for it.

    ``extra_env`` is added to the server's environment last (it wins). Retries on a
    fresh port if one was taken between choosing and binding it.
    """
    from django.conf import settings

    database_url = database_url or current_database_url()
    for attempt in range(attempts):
        server = Server(
            database_url=database_url,
            secret_key=settings.SECRET_KEY,
            redis_url=redis_url,
            extra_env=extra_env,
        )
        try:
            server.wait_ready()
        except ServerFailedToStart as error:
            output = server.output()
            server.stop()
            if "Address already in use" in output and attempt + 1 < attempts:
                continue
            raise ServerFailedToStart(str(error)) from None
        except BaseException:
            server.stop()
            raise
        return server
    raise AssertionError("unreachable")


@contextlib.contextmanager
def live_servers() -> Iterator[Callable[..., Server]]:
    """Yield ``start(*, redis_url=None, extra_env=None) -> Server``; all are stopped at exit.

    If the block fails, each server's output is printed so pytest shows it with the
    failure (captured output is only displayed for failing tests).
    """
    started: list[Server] = []

    def start(*, redis_url: str | None = None, extra_env: dict[str, str] | None = None) -> Server:
        server = start_server(redis_url=redis_url, extra_env=extra_env)
        started.append(server)
        return server

    try:
        yield start
    finally:
        for server in started:
            output = server.output()
            server.stop()
            if output.strip():
                print(f"----- {server!r} output -----\n{output}", file=sys.stdout)


@atexit.register
def _kill_leftovers() -> None:
    for server in list(_running):
        server.stop()


class PrivateRedis:
    """A redis-server of the test's own on a spare port, which the test may stop and start
    again (an outage) without touching the shared Redis. Nothing is kept on disk."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._dir = tempfile.mkdtemp(prefix="private-redis-")
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 10.0) -> None:
        if self.process is not None and self.process.poll() is None:
            return
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                self._dir,
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while not redis_reachable(self.url):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"private redis-server on port {self.port} did not start")
            time.sleep(0.05)

    def stop(self) -> None:
        """Kill it at once (as a crash would), and wait until the port refuses connections."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=5)
        self.process = None


def redis_server_available() -> bool:
    import shutil

    return shutil.which("redis-server") is not None


def postgres_bin_dir() -> Path | None:
    """Where initdb and pg_ctl are (Debian: /usr/lib/postgresql/<version>/bin), newest first."""
    import glob

    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True)
    return Path(found[0]).parent if found else None


class PrivatePostgres:
    """A PostgreSQL cluster of the test's own (``initdb`` into a temporary directory, a spare
    port, no fsync), which the test may stop and start (an outage) without touching the
    shared server. PostgreSQL refuses to run as root, so under root it runs as ``postgres``."""

    def __init__(self) -> None:
        import shutil

        bin_dir = postgres_bin_dir()
        if bin_dir is None:
            raise RuntimeError("PostgreSQL's initdb is not installed")
        self.bin = bin_dir
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="private-pg-"))
        self.data = self.dir / "data"
        self.url = f"postgres://postgres@127.0.0.1:{self.port}/skilllink_private"
        self._as_postgres = os.geteuid() == 0
        if self._as_postgres:
            shutil.chown(self.dir, user="postgres", group="postgres")

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        command = [str(self.bin / args[0]), *args[1:]]
        if self._as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        return subprocess.run(
            command, cwd=self.dir, capture_output=True, text=True, check=check, timeout=60
        )

    def create(self) -> None:
        """initdb, start, and create the (empty) database of ``url``."""
        self._run(
            "initdb",
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--no-sync",
        )
        self.start()
        self._run(
            "createdb",
            "-h",
            "127.0.0.1",
            "-p",
            str(self.port),
            "-U",
            "postgres",
            "skilllink_private",
        )

    def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off"
        )
        self._run(
            "pg_ctl",
            "-D",
            str(self.data),
            "-o",
            options,
            "-l",
            str(self.dir / "log"),
            "-w",
            "-t",
            "30",
            "start",
        )

    def stop(self) -> None:
        """Stop at once (``immediate``: as a crash would, open connections are cut)."""
        if (self.data / "postmaster.pid").exists():
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop", check=False)

    def destroy(self) -> None:
        import shutil

        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)
