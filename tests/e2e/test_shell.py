"""The shell in a real browser: register, theme that survives a reload, the live bell."""

import re
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection, transaction
from playwright.sync_api import expect

from accounts.models import Notification, User
from accounts.services import notification_send
from tests.factories import PASSWORD, make_teacher

pytestmark = pytest.mark.browser


def luminance(css_color: str) -> float:
    """Relative luminance (0 black .. 1 white) of a computed ``rgb(...)``/``rgba(...)`` color."""
    match = re.match(r"rgba?\((\d+),\s*(\d+),\s*(\d+)", css_color)
    assert match, f"not an rgb() color: {css_color!r}"

    def channel(value: str) -> float:
        c = int(value) / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(v) for v in match.groups())
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def body_background(page) -> str:
    """The body's background once the stylesheet applies (a busy machine may ask first)."""
    page.wait_for_function("getComputedStyle(document.body).backgroundColor !== 'rgba(0, 0, 0, 0)'")
    return page.evaluate("getComputedStyle(document.body).backgroundColor")


def in_fresh_thread(function, /, **kwargs):
    """Run ORM + channel-layer code outside the thread where Playwright keeps its event loop.

    ``async_to_sync`` (the layer send after commit) refuses to run in a thread that
    has a running event loop, which Playwright's sync API leaves in this one.
    """

    def work():
        try:
            return function(**kwargs)
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(work).result(timeout=15)


def test_register_as_teacher_and_dark_theme_survives_reload(live_server_url, new_page):
    page = new_page(timezone_id="Asia/Tokyo", color_scheme="light")
    page.goto(f"{live_server_url}/accounts/register/")

    # register.js preselects the browser's zone (the server's default is UTC).
    zone = page.locator("select[name=timezone]")
    expect(zone).to_have_value("Asia/Tokyo")

    page.get_by_label("Username").fill("tomoko")
    page.get_by_label("Email").fill("tomoko@example.test")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Password again").fill(PASSWORD)
    teach = page.get_by_role("radio", name=re.compile(r"^Teach\b"))
    teach.check()
    expect(teach).to_be_checked()
    page.get_by_role("button", name="Create account").click()

    expect(page).to_have_url(f"{live_server_url}/dashboard/")
    expect(page.get_by_role("heading", name="Hello, tomoko")).to_be_visible()
    expect(page.get_by_text("You teach on SkillLink.")).to_be_visible()
    user = User.objects.get(username="tomoko")
    assert user.timezone == "Asia/Tokyo"
    assert (user.is_teacher, user.is_learner) == (True, False)
    assert user.theme == "system"

    # Light before: the check below can tell the two themes apart.
    html = page.locator("html")
    expect(html).to_have_attribute("data-theme", "system")
    assert luminance(body_background(page)) > 0.8

    toggle = page.locator("button[data-theme-toggle]")
    for _ in range(3):
        if html.get_attribute("data-theme") == "dark":
            break
        with page.expect_response(
            lambda r: r.url.endswith("/api/me/") and r.request.method == "PATCH"
        ) as saved:
            toggle.click()
        assert saved.value.ok, saved.value.text()
    expect(html).to_have_attribute("data-theme", "dark")
    user.refresh_from_db()
    assert user.theme == "dark"

    # Without the cookie the page script sets, only the account can say "dark".
    page.context.clear_cookies(name="theme")
    response = page.reload()
    assert response is not None and response.ok
    assert re.search(r'<html[^>]*\sdata-theme="dark"', response.text()), response.text()[:300]
    expect(html).to_have_attribute("data-theme", "dark")
    assert luminance(body_background(page)) < 0.05, body_background(page)

    # With scripts off entirely (same session), the server's HTML alone paints it dark.
    state = page.context.storage_state()
    no_js = new_page(java_script_enabled=False, storage_state=state, color_scheme="light")
    no_js.goto(f"{live_server_url}/dashboard/")
    assert no_js.locator("html").get_attribute("data-theme") == "dark"
    assert luminance(body_background(no_js)) < 0.05, body_background(no_js)


@pytest.mark.redis
def test_bell_and_dashboard_update_live(start_server, redis_url, new_page):
    server = start_server(redis_url=redis_url)
    user = make_teacher(username="bellringer")
    page = new_page()

    page.goto(f"{server.url}/accounts/login/")
    page.get_by_label("Username").fill(user.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(f"{server.url}/dashboard/")
    expect(page.locator("body")).to_have_attribute("data-notifications-socket", "open")

    # Scoped to the bell: the badge is the element that shows the count.
    badge = page.locator("[data-bell] [data-unread-count]")
    live_list = page.locator("[data-live-notifications]")
    expect(badge).to_be_hidden()
    expect(live_list).to_contain_text("Nothing yet.")
    page.evaluate("window.__sameDocument = true")

    title = "Kenji accepted your Guitar session"

    def send():
        with transaction.atomic():
            return notification_send(
                user=user, kind="booking.accepted", title=title, body="Tue 18:00", url="/"
            )

    notification = in_fresh_thread(send)
    assert Notification.objects.filter(pk=notification.pk, user=user).exists()

    expect(badge).to_be_visible()
    expect(badge).to_have_text("1")
    expect(live_list.locator(".notification").first).to_contain_text(title)
    expect(live_list).not_to_contain_text("Nothing yet.")
    expect(page.locator("[data-toasts]")).to_contain_text(title)
    assert page.evaluate("window.__sameDocument") is True, "the page reloaded"
