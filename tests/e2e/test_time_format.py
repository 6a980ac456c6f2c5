"""One time format (issue 15, point 8) in the browser: the profile's clock preference
decides how the availability page writes a slot at 14:00 in its table (server-rendered),
in its calendar (FullCalendar) and in its time pickers; "auto" follows the browser's
language."""

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from tests.e2e.conftest import log_in
from tests.e2e.test_shell import in_fresh_thread
from tests.factories import make_slot, make_teacher_with_skills

pytestmark = pytest.mark.browser

DASH = "\u2013"  # between two times on the page


def _teacher_with_a_slot_at_two(time_format: str):
    teacher = make_teacher_with_skills("Python", time_format=time_format)
    start = (timezone.now() + timedelta(days=1)).replace(hour=14, minute=0, second=0, microsecond=0)
    make_slot(teacher, start=start)
    return teacher, start


@pytest.mark.parametrize(
    ("time_format", "locale", "start_label", "range_label"),
    [
        ("12", "en-GB", "2:00 PM", f"2:00 PM{DASH}3:00 PM"),
        ("24", "en-US", "14:00", f"14:00{DASH}15:00"),
        ("auto", "en-US", "2:00 PM", f"2:00 PM{DASH}3:00 PM"),
        ("auto", "en-GB", "14:00", f"14:00{DASH}15:00"),
    ],
)
def test_the_clock_preference_writes_times_alike_in_page_and_calendar(
    time_format, locale, start_label, range_label, live_server_url, new_page
):
    teacher, start = in_fresh_thread(_teacher_with_a_slot_at_two, time_format=time_format)
    page = new_page(locale=locale)
    log_in(page, live_server_url, teacher.username)
    if time_format == "auto":
        # The first page told the server the browser's clock (the "clock" cookie).
        page.reload()
    page.goto(f"{live_server_url}/availability/")

    row = page.locator("[data-slot-row]").first
    expect(row).to_contain_text(range_label)

    event = page.locator(f'.fc-timegrid-col[data-date="{start:%Y-%m-%d}"] .fc-event')
    if not event.count():
        page.locator(".fc-next-button").click()
    expect(event.locator(".fc-event-time")).to_contain_text(start_label)
    expect(event.locator(".fc-event-time")).to_have_text(range_label.replace(DASH, " - "))
    # The hour labels of the calendar's rows use the same clock.
    expect(page.locator(".fc-timegrid-slot-label", has_text=start_label).first).to_be_visible()

    # The time pickers of "Add a slot" offer the same words.
    starts = page.get_by_label("Starts")
    starts.select_option("14:00")
    expect(starts.locator("option:checked")).to_have_text(start_label)
