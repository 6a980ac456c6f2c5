"""Browser tests: Debian's Chromium driven by Playwright (sync API) against the real server (uvicorn).

The server is a separate process on the test database (``tests.live_server``), so
tests use ``transactional_db``: what they write is committed and the server sees it.
A failing test leaves a screenshot of each of its pages in ``artifacts/``.
"""

import os
import re
import time
from pathlib import Path

import pytest

from tests.browser import CHROMIUM_ARGS
from tests.conftest import require
from tests.live_server import (
    BASE_DIR,
    live_servers,
)

CHROMIUM_CANDIDATES = ("/usr/lib/chromium/chromium", "/usr/bin/chromium")
ARTIFACTS = BASE_DIR / "artifacts"
DEFAULT_CONTEXT = {
    "viewport": {"width": 1280, "height": 800},
    "color_scheme": "light",
    "timezone_id": "UTC",
    # A 24-hour language: accounts whose clock is "auto" (the default) follow the browser,
    # and the tests read times as "14:00" unless they ask for another locale or a preference.
    "locale": "en-GB",
}


def log_in(page, base_url: str, username: str) -> None:
    """Log ``username`` in through the login form (demo password) and land on the dashboard."""
    from playwright.sync_api import expect

    from tests.factories import PASSWORD

    page.goto(f"{base_url}/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(f"{base_url}/dashboard/")


def chromium_executable() -> str | None:
    for candidate in CHROMIUM_CANDIDATES:
        if os.access(candidate, os.X_OK):
            return candidate
    return None


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)


@pytest.fixture(autouse=True)
def _allow_async_unsafe(monkeypatch):
    # Playwright's sync API keeps an event loop in this thread; Django's ORM would
    # otherwise refuse to run "from an async context" in the test body.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture
def start_server(transactional_db):
    """``start_server(redis_url=None) -> Server``: a server on the test DB, stopped afterwards."""
    with live_servers() as start:
        yield start


@pytest.fixture
def live_server_url(start_server) -> str:
    return start_server().url


@pytest.fixture(scope="module")
def browser():
    executable = chromium_executable()
    require(executable is not None, "Chromium not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=executable, headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield browser
        finally:
            browser.close()


def _poll_function(page, expression, *, arg=None, timeout=None, polling=None):
    """``Page.wait_for_function`` that works under our CSP. Playwright's own evaluates the
    predicate with ``eval`` inside the page, which a policy without 'unsafe-eval'
    refuses; this polls ``page.evaluate`` (run by the DevTools protocol, outside the
    policy) with the same arguments and the same timeout semantics."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

    deadline = time.monotonic() + (10_000 if timeout is None else timeout) / 1000
    interval = polling if isinstance(polling, int | float) else 50
    while True:
        value = page.evaluate(expression, arg)
        if value:
            return value
        if time.monotonic() > deadline:
            raise PlaywrightTimeoutError(f"wait_for_function timed out: {expression}")
        page.wait_for_timeout(interval)


def _csp_safe_waits(page):
    page.wait_for_function = lambda expression, **kw: _poll_function(page, expression, **kw)
    return page


@pytest.fixture
def new_page(request, browser):
    """``new_page(**context_options) -> Page`` in a fresh context (defaults: 1280x800, light, UTC).

    Every page is watched for Content-Security-Policy violations (Chromium reports them
    on the console): a test whose pages broke the policy fails, so a new inline script,
    style attribute or foreign source is caught by the flow that renders it."""
    contexts = []
    violations: list[str] = []

    def watch(message) -> None:
        if "Content Security Policy" in message.text:
            violations.append(f"{message.page.url if message.page else '?'}: {message.text}")

    def make(**options):
        context = browser.new_context(**{**DEFAULT_CONTEXT, **options})
        context.set_default_timeout(10_000)
        context.on("console", watch)
        context.on("page", _csp_safe_waits)  # pages a test opens itself in this context
        contexts.append(context)
        return _csp_safe_waits(context.new_page())

    yield make

    call = getattr(request.node, "rep_call", None)
    failed = call is not None and call.failed
    for index, context in enumerate(contexts):
        if failed:
            ARTIFACTS.mkdir(exist_ok=True)
            name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.nodeid)
            for page_index, page in enumerate(context.pages):
                path = Path(ARTIFACTS, f"{name}-{index}-{page_index}.png")
                try:
                    page.screenshot(path=str(path), full_page=True)
                    print(f"screenshot of the failure: {path}")
                except Exception as error:
                    print(f"could not screenshot {page.url}: {error}")
        context.close()
    if violations:
        pytest.fail("Content-Security-Policy violations:\n" + "\n".join(violations))


@pytest.fixture
def page(new_page):
    return new_page()
