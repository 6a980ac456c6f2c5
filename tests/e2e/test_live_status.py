"""People are told when live updates pause (Redis down) and see them resume by themselves,
while the pages keep working (issue 14, point 6)."""

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import log_in
from tests.factories import make_learner

pytestmark = pytest.mark.browser


def test_the_header_says_live_updates_are_paused_while_redis_is_down(
    start_server, private_redis, new_page
):
    make_learner(username="maya")
    server = start_server(redis_url=private_redis.url)
    page = new_page()
    log_in(page, server.url, "maya")
    status = page.locator("[data-live-status]")
    expect(page.locator("body")).to_have_attribute("data-notifications-socket", "open")
    expect(status).to_be_hidden()

    private_redis.stop()
    expect(status).to_be_visible(timeout=10_000)
    expect(status).to_contain_text("Live updates are paused")
    # Pages still work meanwhile; a page opened now says it too (its socket waits to connect).
    page.goto(f"{server.url}/sessions/")
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    expect(status).to_be_visible(timeout=10_000)

    private_redis.start()
    # The page reconnects by itself (with backoff) and the notice goes away.
    expect(status).to_be_hidden(timeout=45_000)
    expect(page.locator("body")).to_have_attribute("data-live", "live")
