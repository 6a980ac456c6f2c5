"""daphne processes for the real-time benchmark (as ``tests/live_server.py`` starts them).

Each server is its own process group on a free loopback port, logs to a temporary
file, and is killed (SIGTERM, then SIGKILL) by ``stop()``, by the context manager,
and at interpreter exit as a last resort.
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
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
DAPHNE = Path(sys.executable).parent / "daphne"
START_TIMEOUT = 30.0

_running: set[Server] = set()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    def __init__(self, *, database_url: str, secret_key: str, redis_url: str, redis_prefix: str):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.ws_url = f"ws://127.0.0.1:{self.port}"
        self._log = tempfile.NamedTemporaryFile(  # noqa: SIM115 (closed in stop())
            prefix=f"bench-daphne-{self.port}-", suffix=".log", delete=False
        )
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "skilllink.settings",
            "DEBUG": "1",
            "DATABASE_URL": database_url,
            "SECRET_KEY": secret_key,
            "REDIS_URL": redis_url,
            "REDIS_PREFIX": redis_prefix,
            "PYTHONUNBUFFERED": "1",
        }
        env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        self.process = subprocess.Popen(
            [str(DAPHNE), "-b", "127.0.0.1", "-p", str(self.port), "skilllink.asgi:application"],
            cwd=BASE_DIR,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        _running.add(self)

    def output(self) -> str:
        try:
            return Path(self._log.name).read_text(errors="replace")
        except OSError:
            return ""

    def wait_ready(self, timeout: float = START_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        last = "no answer yet"
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"daphne exited with {self.process.returncode}:\n{self.output()}"
                )
            try:
                with urllib.request.urlopen(f"{self.url}/healthz/", timeout=2) as response:
                    if response.status == 200:
                        return
                    last = f"/healthz/ answered {response.status}"
            except urllib.error.HTTPError as error:
                last = f"/healthz/ answered {error.code}"
            except OSError as error:
                last = str(error)
            time.sleep(0.1)
        raise RuntimeError(f"daphne on {self.port} not ready in {timeout:.0f} s ({last})")

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


@contextlib.contextmanager
def cluster(count: int, **kwargs):
    """Start ``count`` servers (in parallel) and yield them; all are stopped on exit."""
    servers: list[Server] = []
    try:
        for _ in range(count):
            servers.append(Server(**kwargs))
        for server in servers:
            server.wait_ready()
        yield servers
    finally:
        for server in servers:
            server.stop()


@atexit.register
def _kill_leftovers() -> None:
    for server in list(_running):
        server.stop()
