"""axe-core (npm ``axe-core``, a dev dependency in package.json, injected from
``node_modules``) finds no serious or critical violation on the pages people use most, in
both themes (issue 15, point 10). The calendar pages are checked with their slots shown,
and the room both before and after joining.
"""

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from tests.conftest import require, scheduled_booking
from tests.e2e.conftest import log_in
from tests.e2e.test_shell import in_fresh_thread
from tests.factories import make_slot
from tests.live_server import BASE_DIR

pytestmark = pytest.mark.browser

AXE = BASE_DIR / "node_modules" / "axe-core" / "axe.min.js"
BLOCKING = ("serious", "critical")

# page name -> (path template, who looks at it: None, "learner" or "teacher")
PAGES = {
    "home": ("/", None),
    "register": ("/accounts/register/", None),
    "dashboard": ("/dashboard/", "learner"),
    "find-a-teacher": ("/teachers/", "learner"),
    "teacher-profile": ("/teachers/{teacher}/", "learner"),
    "availability": ("/availability/", "teacher"),
    "session": ("/sessions/{booking}/", "learner"),
    "room": ("/sessions/{booking}/room/", "learner"),
    "upgrade": ("/upgrade/", "learner"),
}
CALENDAR_PAGES = {"teacher-profile", "availability"}


def _data(theme: str):
    """People who chose ``theme``; a session that began 5 minutes ago (session page, room) and a few open slots of its
    teacher in the coming days (profile and availability calendars, find a teacher)."""
    booking, learner, teacher = scheduled_booking(starts_in=timedelta(minutes=-5))
    soon = timezone.now().replace(minute=0, second=0, microsecond=0) + timedelta(days=1)
    for day in range(3):
        make_slot(teacher, start=soon + timedelta(days=day, hours=2))
    for person in (learner, teacher):
        person.theme = theme
        person.save(update_fields=["theme"])
    return booking, learner, teacher


def axe_violations(page) -> list[dict]:
    """Serious and critical violations axe finds on the page as it is now."""
    # Through the DevTools protocol, not a <script> tag: the page's Content-Security-Policy
    # refuses inline scripts (as it should), and the CSP watcher would fail the test.
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(AXE.read_text() + "\n;undefined")
    results = page.evaluate("() => axe.run(document, { resultTypes: ['violations'] })")
    return [
        {
            "id": violation["id"],
            "impact": violation["impact"],
            "help": violation["help"],
            "targets": [node["target"] for node in violation["nodes"]][:5],
        }
        for violation in results["violations"]
        if violation["impact"] in BLOCKING
    ]


@pytest.mark.parametrize("theme", ["light", "dark"])
@pytest.mark.parametrize("name", list(PAGES))
def test_no_serious_or_critical_axe_violation(name, theme, live_server_url, new_page):
    require(AXE.exists(), "axe-core is not installed (npm install in the project)")
    booking, learner, teacher = in_fresh_thread(_data, theme=theme)
    path, viewer = PAGES[name]
    page = new_page(color_scheme=theme)
    page.context.add_cookies([{"name": "theme", "value": theme, "url": live_server_url}])
    if viewer:
        log_in(page, live_server_url, (learner if viewer == "learner" else teacher).username)
    response = page.goto(live_server_url + path.format(teacher=teacher.pk, booking=booking.pk))
    assert response is not None and response.status == 200
    expect(page.locator("html")).to_have_attribute("data-theme", theme)
    if name in CALENDAR_PAGES:
        expect(page.locator(".fc-event").first).to_be_visible()
    found = {"initial": axe_violations(page)}
    if name == "room":
        page.wait_for_function("() => document.querySelector('[data-preview]').videoWidth > 0")
        found["before joining"] = axe_violations(page)
        page.get_by_role("button", name="Join now").click()
        expect(page.locator("[data-room]")).to_have_attribute("data-socket", "open")
        found["joined"] = axe_violations(page)
    for state, violations in found.items():
        assert violations == [], f"{name} ({theme}, {state}): {violations}"
