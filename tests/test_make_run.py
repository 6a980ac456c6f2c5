"""`make run` on a bare machine: SQLite file, in-memory layer, demo data, dashboard served."""

import http.cookiejar
import os
import re
import signal
import socket
import subprocess
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for(url: str, process: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"make run exited early:\n{process.stdout.read()}")
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    pytest.fail(f"make run did not serve {url} within {timeout}s")


def test_make_run_serves_the_dashboard_with_demo_data_without_redis_or_postgres(tmp_path):
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k not in {"REDIS_URL", "DATABASE_URL"}}
    env.update(
        {
            "PORT": str(port),
            # Keep the developer's db.sqlite3 untouched: same code path, another file.
            "DATABASE_URL": f"sqlite:///{tmp_path}/run.sqlite3",
        }
    )
    process = subprocess.Popen(
        ["make", "--no-print-directory", "run"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_for(f"{base}/healthz/", process)
        jar = http.cookiejar.CookieJar()
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
        login_page = opener.open(f"{base}/accounts/login/").read().decode()
        csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', login_page).group(1)
        form = urllib.parse.urlencode(
            {"username": "ada", "password": "skilllink-demo-2026", "csrfmiddlewaretoken": csrf}
        ).encode()
        request = urllib.request.Request(
            f"{base}/accounts/login/", data=form, headers={"Referer": f"{base}/accounts/login/"}
        )
        dashboard = opener.open(request)
        html = dashboard.read().decode()
        assert dashboard.url == f"{base}/dashboard/"
        assert "Hello, ada" in html
        assert "Python" in html  # ada's demo skills
        css = opener.open(f"{base}/static/css/app.css")
        assert css.status == 200
        calendar = opener.open(f"{base}/static/vendor/fullcalendar/index.global.min.js")
        assert calendar.status == 200
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


def _run_make(tmp_path, port: int) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k not in {"REDIS_URL", "DATABASE_URL"}}
    env.update({"PORT": str(port), "DATABASE_URL": f"sqlite:///{tmp_path}/run.sqlite3"})
    return subprocess.Popen(
        ["make", "--no-print-directory", "run"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_make_run_says_each_step_prints_the_address_once_answering_and_stops_cleanly(
    tmp_path, stop
):
    port = _free_port()
    process = _run_make(tmp_path, port)
    lines: list[str] = []
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                pytest.fail("make run ended before it served:\n" + "".join(lines))
            lines.append(line)
            if "SkillLink is ready on" in line:
                # Printed only once the server answers: it answers now.
                assert line.strip().startswith(f"SkillLink is ready on http://127.0.0.1:{port}/")
                assert _answers(f"http://127.0.0.1:{port}/healthz/")
                break
        else:
            pytest.fail("no address printed:\n" + "".join(lines))
        text = "".join(lines)
        steps = ["== Applying database migrations", "== Loading the demo data", "== Starting"]
        positions = [text.index(step) for step in steps]
        assert positions == sorted(positions), text
        os.killpg(process.pid, stop)  # as a terminal's Ctrl-C or a process manager would
        rest, _ = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    output = "".join(lines) + rest
    assert "Traceback" not in output and "KeyboardInterrupt" not in output, output
    assert "make: ***" not in output, output  # the server itself exited 0 / 130
    assert "Application shutdown complete." in output
    # make ends as its shell expects after that signal (it re-raises it on itself).
    assert process.returncode in (0, 130, -stop), process.returncode


@pytest.mark.parametrize(("stop", "status"), [(signal.SIGINT, 0), (signal.SIGTERM, 0)])
def test_the_server_exits_with_a_clean_status_on_ctrl_c_and_sigterm(tmp_path, stop, status):
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k not in {"REDIS_URL", "DATABASE_URL"}}
    env.update({"PORT": str(port), "DEBUG": "1", "DATABASE_URL": f"sqlite:///{tmp_path}/s.sqlite3"})
    python = str(ROOT / ".venv" / "bin" / "python")
    subprocess.run([python, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    process = subprocess.Popen(
        [python, "-m", "skilllink.serve"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        _wait_for(f"http://127.0.0.1:{port}/healthz/", process)
        process.send_signal(stop)
        output, _ = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == status, output
    assert "Traceback" not in output, output
