"""The availability calendar in a real browser: a New York teacher drags out, moves and
resizes a slot; a Tokyo learner finds the teacher and sees it at Tokyo time. Also the
paths without dragging (the form, the dialog from the keyboard, the table)."""

import re
import zoneinfo
from datetime import datetime, timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from scheduling.models import AvailabilitySlot
from scheduling.services.bookings import booking_request
from tests.e2e.test_shell import in_fresh_thread
from tests.factories import PASSWORD, make_learner, make_slot, make_teacher_with_skills

pytestmark = pytest.mark.browser

NEW_YORK = zoneinfo.ZoneInfo("America/New_York")
TOKYO = zoneinfo.ZoneInfo("Asia/Tokyo")
DASH = "\u2013"  # the en dash the pages put between two times


def log_in(page, base_url: str, username: str) -> None:
    page.goto(f"{base_url}/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{base_url}/dashboard/")


def next_week_monday(zone: zoneinfo.ZoneInfo) -> datetime:
    """Midnight on the Monday of next week in ``zone`` (the calendar's weeks start on Monday)."""
    today = timezone.now().astimezone(zone).date()
    monday = today - timedelta(days=today.weekday()) + timedelta(weeks=1)
    return datetime(monday.year, monday.month, monday.day, tzinfo=zone)


def at(day: datetime, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=day.tzinfo)


def bring_calendar_into_view(page) -> None:
    """Scroll the page once so the grid sits below the sticky header; measure after that."""
    page.locator(".fc-view-harness").evaluate(
        "el => window.scrollTo(0, el.getBoundingClientRect().top + window.scrollY - 80)"
    )


def box(locator) -> dict:
    """Viewport coordinates (nothing scrolls here, so boxes measured together agree)."""
    found = locator.bounding_box()
    assert found is not None, f"{locator} is not visible"
    return found


def lane(page, time: str) -> dict:
    """The time grid row starting at ``time`` (HH:MM)."""
    return box(page.locator(f'.fc-timegrid-slot-lane[data-time="{time}:00"]'))


def column(page, day: datetime) -> dict:
    return box(page.locator(f'.fc-timegrid-col[data-date="{day:%Y-%m-%d}"]'))


def drag(page, start: tuple[float, float], end: tuple[float, float]) -> None:
    page.mouse.move(*start)
    page.mouse.down()
    # Several small moves: FullCalendar starts a drag only past a minimum distance.
    page.mouse.move(start[0], start[1] + 6, steps=3)
    page.mouse.move(*end, steps=12)
    page.mouse.up()


def patch_response(page):
    return page.expect_response(
        lambda r: re.search(r"/api/slots/\d+/$", r.url) is not None and r.request.method == "PATCH"
    )


def test_teacher_drags_moves_resizes_a_slot_and_a_tokyo_learner_sees_it(live_server_url, new_page):
    teacher = make_teacher_with_skills(
        "Python", username="nyteacher", timezone_name="America/New_York"
    )
    make_learner(username="tokyolearner", timezone_name="Asia/Tokyo")
    monday = next_week_monday(NEW_YORK)
    wednesday, thursday, friday = (monday + timedelta(days=n) for n in (2, 3, 4))
    # Another of the teacher's slots, for the refused move at the end.
    obstacle = make_slot(teacher, start=at(friday, 11), minutes=60)

    page = new_page(timezone_id="America/New_York")
    log_in(page, live_server_url, "nyteacher")
    page.goto(f"{live_server_url}/availability/")
    expect(page.locator(".fc-timegrid-slot-lane").first).to_be_visible()
    page.locator(".fc-next-button").click()
    expect(page.locator(f'.fc-timegrid-col[data-date="{wednesday:%Y-%m-%d}"]')).to_be_visible()
    expect(page.locator(".fc-event")).to_have_count(1)  # the obstacle
    bring_calendar_into_view(page)

    # 1. Drag on Wednesday from 09:00 to 10:00 (New York), confirm the dialog.
    wed = column(page, wednesday)
    x = wed["x"] + wed["width"] / 2
    drag(page, (x, lane(page, "09:00")["y"] + 3), (x, lane(page, "10:00")["y"] - 3))
    dialog = page.locator("[data-create-dialog]")
    expect(dialog).to_be_visible()
    expect(dialog.locator("[data-when]")).to_contain_text(f"09:00{DASH}10:00 (America/New_York)")
    dialog.get_by_label("Skill").select_option("python")
    with page.expect_response(
        lambda r: r.url.endswith("/api/slots/") and r.request.method == "POST"
    ) as created:
        dialog.get_by_role("button", name="Create").click()
    assert created.value.status == 201, created.value.text()
    expect(dialog).to_be_hidden()
    slot = AvailabilitySlot.objects.exclude(pk=obstacle.pk).get(teacher=teacher)
    assert (slot.start, slot.end) == (at(wednesday, 9), at(wednesday, 10))
    assert slot.skill.slug == "python"
    event = page.locator(".fc-event", has_text="Python").filter(
        has=page.locator(".fc-event-time", has_text="09:00 - 10:00")
    )
    expect(event).to_have_count(1)

    # 2. Move it to Thursday, one hour later.
    before = box(event)
    thu = column(page, thursday)
    hour = lane(page, "11:00")["y"] - lane(page, "10:00")["y"]
    grab = (before["x"] + before["width"] / 2, before["y"] + 8)
    with patch_response(page) as moved:
        drag(page, grab, (thu["x"] + thu["width"] / 2, grab[1] + hour))
    assert moved.value.status == 200, moved.value.text()
    slot.refresh_from_db()
    assert (slot.start, slot.end) == (at(thursday, 10), at(thursday, 11))

    # 3. Resize: drag the bottom edge down by half an hour.
    event = page.locator(f'.fc-timegrid-col[data-date="{thursday:%Y-%m-%d}"] .fc-event')
    expect(event.locator(".fc-event-time")).to_have_text("10:00 - 11:00")
    event.hover()
    handle = box(event.locator(".fc-event-resizer-end"))
    grab = (handle["x"] + handle["width"] / 2, handle["y"] + handle["height"] / 2)
    with patch_response(page) as resized:
        drag(page, grab, (grab[0], grab[1] + hour / 2))
    assert resized.value.status == 200, resized.value.text()
    slot.refresh_from_db()
    assert (slot.start, slot.end) == (at(thursday, 10), at(thursday, 11, 30))
    # The block's accessible name is its visible text and more, and it followed the resize.
    expect(event).to_have_accessible_name(
        re.compile(rf"^10:00 - 11:30 Python ?, Open slot, Thu \d+ \w+, 10:00{DASH}11:30$")
    )

    # 4. Reload: it is where the teacher left it.
    page.reload()
    page.locator(".fc-next-button").click()
    event = page.locator(f'.fc-timegrid-col[data-date="{thursday:%Y-%m-%d}"] .fc-event')
    expect(event.locator(".fc-event-time")).to_have_text("10:00 - 11:30")
    bring_calendar_into_view(page)
    placed = box(event)
    top, bottom = lane(page, "10:00")["y"], lane(page, "11:30")["y"]
    assert abs(placed["y"] - top) <= 3, (placed, top)
    assert abs(placed["y"] + placed["height"] - bottom) <= 3, (placed, bottom)

    # 5. A refused move (to Friday, where 10:00-11:30 overlaps the 11:00 slot) snaps
    # back and shows the server's reason.
    fri = column(page, friday)
    grab = (placed["x"] + placed["width"] / 2, placed["y"] + 8)
    with patch_response(page) as refused:
        drag(page, grab, (fri["x"] + fri["width"] / 2, grab[1]))
    assert refused.value.status == 409
    alert = page.locator("[data-cal-alert]")
    expect(alert).to_contain_text("That time overlaps another of your slots.")
    expect(event.locator(".fc-event-time")).to_have_text("10:00 - 11:30")
    back = box(event)
    assert abs(back["y"] - placed["y"]) <= 1 and abs(back["x"] - placed["x"]) <= 1
    slot.refresh_from_db()
    assert (slot.start, slot.end) == (at(thursday, 10), at(thursday, 11, 30))

    # 6. A learner in Tokyo finds the teacher by skill and sees the slot at Tokyo time.
    learner_page = new_page(timezone_id="Asia/Tokyo")
    log_in(learner_page, live_server_url, "tokyolearner")
    learner_page.goto(f"{live_server_url}/teachers/?skill=python")
    learner_page.get_by_role("link", name="nyteacher", exact=True).click()
    expect(learner_page.get_by_text("Times in Asia/Tokyo")).to_be_visible()
    booking_link = learner_page.locator(f'a.fc-event[href="/book/{slot.pk}/"]')
    start, end = slot.start.astimezone(TOKYO), slot.end.astimezone(TOKYO)
    expect(booking_link.locator(".fc-event-time")).to_have_text(f"{start:%H:%M} - {end:%H:%M}")
    column_date = booking_link.locator("xpath=ancestor::td[@data-date]")
    expect(column_date).to_have_attribute("data-date", f"{start:%Y-%m-%d}")


def test_keyboard_form_dialog_table_and_a_requested_slot_that_cannot_change(
    live_server_url, new_page
):
    paris = zoneinfo.ZoneInfo("Europe/Paris")
    teacher = make_teacher_with_skills(
        "Python", "Guitar", username="kbteacher", timezone_name="Europe/Paris"
    )
    learner = make_learner(username="booker")
    monday = next_week_monday(paris)
    tuesday, wednesday = monday + timedelta(days=1), monday + timedelta(days=2)
    asked = make_slot(teacher, start=at(tuesday, 16), minutes=60)
    # booking_request notifies after commit (async_to_sync): not from Playwright's thread.
    in_fresh_thread(booking_request, learner=learner, slot_id=asked.pk)

    page = new_page(timezone_id="Europe/Paris")
    log_in(page, live_server_url, "kbteacher")
    page.goto(f"{live_server_url}/availability/")

    # The plain form: Wednesday 14:00-15:30 Paris time, Guitar, two weeks running.
    form = page.locator("[data-add-slot-form]")
    form.get_by_label("Date").fill(f"{wednesday:%Y-%m-%d}")
    form.get_by_label("Starts").select_option("14:00")
    form.get_by_label("Ends").select_option("15:30")
    form.get_by_label("Skill").select_option("guitar")
    form.get_by_label("Repeat weekly for (weeks)").fill("2")
    with page.expect_response(
        lambda r: r.url.endswith("/api/slots/") and r.request.method == "POST"
    ) as created:
        form.get_by_role("button", name="Add slot").click()
    assert created.value.status == 201, created.value.text()
    first, second = AvailabilitySlot.objects.filter(teacher=teacher, skill__slug="guitar")
    next_wednesday = wednesday + timedelta(weeks=1)
    assert (first.start, first.end) == (at(wednesday, 14), at(wednesday, 15, 30))
    assert (second.start, second.end) == (at(next_wednesday, 14), at(next_wednesday, 15, 30))
    expect(page.locator(f'[data-slot-row="{first.pk}"]')).to_contain_text(f"14:00{DASH}15:30")
    expect(page.locator(f'[data-slot-row="{second.pk}"]')).to_contain_text("Guitar")

    # The calendar went to that week; a slot opens from the keyboard (Enter).
    event = page.locator(f'.fc-timegrid-col[data-date="{wednesday:%Y-%m-%d}"] .fc-event')
    expect(event.locator(".fc-event-time")).to_have_text("14:00 - 15:30")
    event.focus()
    page.keyboard.press("Enter")
    dialog = page.locator("[data-slot-dialog]")
    expect(dialog).to_be_visible()
    dialog.get_by_label("Skill").select_option("")
    with patch_response(page) as saved:
        dialog.get_by_role("button", name="Save").click()
    assert saved.value.status == 200
    expect(dialog).to_be_hidden()
    expect(event).to_contain_text("Any of my skills")
    first.refresh_from_db()
    assert first.skill is None

    # Delete the second week's slot from the table, after the page's own confirmation
    # (never the browser's confirm()): Escape keeps it, "Delete slot" deletes it.
    page.on("dialog", lambda native: pytest.fail(f"browser dialog: {native.message}"))
    delete_button = page.locator(f'[data-delete-slot="{second.pk}"]')
    delete_button.click()
    confirm = page.locator("[data-confirm-dialog]")
    expect(confirm).to_be_visible()
    expect(confirm.get_by_role("button", name="Cancel")).to_be_focused()
    page.keyboard.press("Escape")
    expect(confirm).to_have_count(0)
    expect(delete_button).to_be_focused()
    assert AvailabilitySlot.objects.filter(pk=second.pk).exists()
    delete_button.click()
    with page.expect_response(lambda r: r.request.method == "DELETE") as deleted:
        page.locator("[data-confirm-dialog]").get_by_role("button", name="Delete slot").click()
    assert deleted.value.status == 204
    expect(page.locator(f'[data-slot-row="{second.pk}"]')).to_have_count(0)
    assert not AvailabilitySlot.objects.filter(pk=second.pk).exists()

    # The requested slot looks different, cannot be dragged, and says why.
    requested = page.locator(f'.fc-timegrid-col[data-date="{tuesday:%Y-%m-%d}"] .fc-event')
    expect(requested).to_have_class(re.compile(r"\bslot-requested\b"))
    expect(requested).not_to_have_class(re.compile(r"\bfc-event-draggable\b"))
    expect(requested).to_contain_text("Requested")
    requested.click()
    expect(dialog.locator("[data-note]")).to_contain_text("A learner has asked for this slot")
    expect(dialog.get_by_role("button", name="Delete slot")).to_be_hidden()
    expect(page.locator(f'[data-slot-row="{asked.pk}"] [data-delete-slot]')).to_have_count(0)
