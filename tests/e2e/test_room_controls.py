"""The room as people use it (issue 15, point 7), in Chromium with its fake camera and
microphone (``--use-fake-device-for-media-stream --use-fake-ui-for-media-stream``):

- the waiting room (before the room opens) checks camera and microphone: a live preview,
  device pickers whose choice the room reuses, a level meter that moves with the fake
  microphone's beeps, and a button that turns both off;
- the room shows elapsed and remaining time; "Leave" closes this person's connection and
  the session goes on (Rejoin comes back), "End for both" asks in the page's own dialog
  (focus inside, Escape keeps the session) and completes it;
- the learner rates the session right there when it ends; the teacher is not asked;
- ending before the start is refused by the rule, and the page says why.
"""

import re
from datetime import timedelta

import pytest
from playwright.sync_api import expect

from credits.models import Rating
from scheduling.models import Booking, RoomVisit
from tests.conftest import scheduled_booking
from tests.e2e.conftest import log_in
from tests.e2e.test_room import (
    CONNECT_TIMEOUT,
    NO_ICE_SERVERS,
    PC_CONNECTED,
    STATUS,
    open_room,
)
from tests.e2e.test_shell import in_fresh_thread

pytestmark = pytest.mark.browser

PREVIEW_PLAYING = "() => document.querySelector('[data-preview]').videoWidth > 0"
METER_MOVED = "() => Number(document.querySelector('[data-mic-level]').dataset.level) > 5"
NO_BROWSER_DIALOGS = "browser dialog (window.confirm/alert) on a page that must use its own"


@pytest.fixture
def room_server(start_server):
    return start_server(extra_env=NO_ICE_SERVERS)


def refuse_browser_dialogs(page):
    page.on("dialog", lambda native: pytest.fail(f"{NO_BROWSER_DIALOGS}: {native.message}"))


def test_waiting_room_checks_camera_and_microphone_before_the_room_opens(room_server, new_page):
    booking, learner, _ = in_fresh_thread(scheduled_booking, starts_in=timedelta(minutes=40))
    page = new_page()
    refuse_browser_dialogs(page)
    log_in(page, room_server.url, learner.username)
    page.goto(f"{room_server.url}/sessions/{booking.pk}/room/")

    expect(page.get_by_role("heading", name="Check your camera and microphone")).to_be_visible()
    expect(page.locator("[data-countdown]")).to_have_text(re.compile(r"Opens in \d+m \d+s"))
    expect(page.locator("[data-room]")).to_have_count(0)  # not the room itself
    page.wait_for_function(PREVIEW_PLAYING, timeout=CONNECT_TIMEOUT)

    # The pickers list the fake devices (with labels, access having been granted).
    camera = page.get_by_label("Camera", exact=True)
    microphone = page.get_by_label("Microphone", exact=True)
    expect(camera.locator("option")).not_to_have_count(1)
    expect(microphone.locator("option")).not_to_have_count(1)

    # The meter moves with the fake microphone (a beep a second); a click lets audio run.
    page.locator("h1").click()
    meter = page.get_by_role("meter", name="Microphone level")
    expect(meter).to_have_attribute("data-state", "on")
    page.wait_for_function(METER_MOVED, timeout=CONNECT_TIMEOUT, polling=50)
    assert int(meter.get_attribute("aria-valuenow")) > 5

    # Picking a camera restarts the preview with it and is remembered for the room.
    camera_id = camera.locator("option").nth(1).get_attribute("value")
    camera.select_option(camera_id)
    page.wait_for_function(PREVIEW_PLAYING, timeout=CONNECT_TIMEOUT)
    assert page.evaluate("localStorage.getItem('skilllink.camera')") == camera_id
    page.wait_for_function(
        "(id) => document.querySelector('[data-preview]').srcObject"
        "?.getVideoTracks()[0]?.getSettings().deviceId === id",
        arg=camera_id,
    )

    # Turning them off stops every track (the camera light goes out); Test again restarts.
    page.get_by_role("button", name="Turn off the camera and microphone").click()
    expect(meter).to_have_attribute("data-state", "off")
    assert page.evaluate("document.querySelector('[data-preview]').srcObject") is None
    page.get_by_role("button", name="Test again").click()
    page.wait_for_function(PREVIEW_PLAYING, timeout=CONNECT_TIMEOUT)

    # Nothing of the session moved, and no room connection was made.
    assert Booking.objects.get(pk=booking.pk).status == "scheduled"
    assert not RoomVisit.objects.filter(booking=booking).exists()


def test_room_clock_leave_rejoin_end_for_both_and_rating(room_server, new_page):
    base = room_server.url
    booking, learner, teacher = in_fresh_thread(scheduled_booking, starts_in=timedelta(minutes=-5))
    pages = {}
    for person in (teacher, learner):
        page = new_page()
        refuse_browser_dialogs(page)
        log_in(page, base, person.username)
        open_room(page, base, booking.pk)
        # The pre-join check has the meter too.
        expect(page.get_by_role("meter", name="Microphone level")).to_have_attribute(
            "data-state", "on"
        )
        page.get_by_role("button", name="Join now").click()
        pages[person.username] = page
    teacher_page, learner_page = pages[teacher.username], pages[learner.username]
    for page in (teacher_page, learner_page):
        page.wait_for_function(PC_CONNECTED, timeout=CONNECT_TIMEOUT, polling=100)

    # Elapsed and remaining time of the booked hour (started 5 minutes ago).
    clock = learner_page.get_by_role("timer", name="Session time")
    expect(clock).to_have_text(re.compile(r"^[5-7]:\d\d elapsed · 5[2-5]:\d\d left$"))
    first = clock.text_content()
    expect(clock).not_to_have_text(first)  # it ticks

    # --- Leave: the learner's connection closes, the session goes on, Rejoin comes back.
    learner_page.get_by_role("button", name="Leave").click()
    expect(learner_page.get_by_role("heading", name="You left the room")).to_be_visible()
    expect(learner_page.locator("[data-room-body]")).to_be_hidden()
    expect(teacher_page.locator(STATUS)).to_have_text(f"{learner.username} left")
    assert Booking.objects.get(pk=booking.pk).status == "in_progress"
    assert learner_page.evaluate(
        "window.__room.stream.getTracks().every((t) => t.readyState === 'ended')"
    )
    learner_page.get_by_role("button", name="Rejoin").click()
    expect(learner_page.locator("[data-prejoin]")).to_be_visible()
    learner_page.get_by_role("button", name="Join now").click()
    for page in (teacher_page, learner_page):
        page.wait_for_function(PC_CONNECTED, timeout=CONNECT_TIMEOUT, polling=100)
        expect(page.locator(STATUS)).to_have_text("Connected")

    # --- End for both: the page's own dialog; Escape keeps the session going.
    end_button = teacher_page.get_by_role("button", name="End for both")
    end_button.click()
    dialog = teacher_page.get_by_role("dialog", name="End the session for both of you?")
    expect(dialog).to_be_visible()
    keep = dialog.get_by_role("button", name="Keep going")
    confirm = dialog.get_by_role("button", name="End for both")
    expect(keep).to_be_focused()  # the safe answer
    # Focus stays inside the dialog both ways round.
    teacher_page.keyboard.press("Tab")
    expect(confirm).to_be_focused()
    teacher_page.keyboard.press("Tab")
    expect(keep).to_be_focused()
    teacher_page.keyboard.press("Shift+Tab")
    expect(confirm).to_be_focused()
    teacher_page.keyboard.press("Escape")
    expect(dialog).to_have_count(0)
    expect(end_button).to_be_focused()
    teacher_page.wait_for_timeout(300)
    assert Booking.objects.get(pk=booking.pk).status == "in_progress"

    end_button.click()
    teacher_page.get_by_role("dialog").get_by_role("button", name="End for both").click()
    expect(teacher_page.get_by_role("heading", name="The session has ended")).to_be_visible()
    expect(teacher_page.locator("[data-rate-form]")).to_have_count(0)  # teachers don't rate

    # --- The learner is asked to rate it right there.
    expect(learner_page.locator("[data-ended-note]")).to_have_text(
        f"{teacher.username} ended the session."
    )
    form = learner_page.locator("[data-rate-form]")
    expect(form).to_be_visible()
    ended = Booking.objects.get(pk=booking.pk)
    assert ended.status == "completed" and ended.ended_by_id == teacher.pk
    # Bad input first: no stars chosen is caught by the form, nothing is sent.
    form.get_by_role("button", name="Send rating").click()
    assert not Rating.objects.filter(booking=booking).exists()
    form.get_by_role("radio", name="4 stars").check()
    form.get_by_label("Feedback (optional)").fill("Clear and patient.")
    with learner_page.expect_response(lambda r: r.url.endswith("/rating/")) as answer:
        form.get_by_role("button", name="Send rating").click()
    assert answer.value.status == 201
    expect(learner_page.locator("[data-rate-thanks]")).to_have_text(
        "Thank you — you rated the session 4 out of 5."
    )
    expect(form).to_be_hidden()
    rating = Rating.objects.get(booking=booking)
    assert (rating.stars, rating.feedback, rating.learner_id) == (
        4,
        "Clear and patient.",
        learner.pk,
    )


def test_ending_before_the_start_is_refused_and_said(room_server, new_page):
    """The room opens 10 minutes early; the rule (booking_actions' "complete") refuses an
    end before the start, and the page shows the reason instead of ending anything."""
    booking, learner, _ = in_fresh_thread(scheduled_booking, starts_in=timedelta(minutes=5))
    page = new_page()
    refuse_browser_dialogs(page)
    log_in(page, room_server.url, learner.username)
    open_room(page, room_server.url, booking.pk)
    expect(page.get_by_role("timer", name="Session time")).to_have_text(
        re.compile(r"^Starts in [3-5]:\d\d$")
    )
    page.get_by_role("button", name="Join now").click()
    expect(page.locator("[data-room]")).to_have_attribute("data-socket", "open")
    page.get_by_role("button", name="End for both").click()
    page.get_by_role("dialog").get_by_role("button", name="End for both").click()
    expect(page.locator(".toast")).to_contain_text("it can be ended from then on")
    expect(page.locator("[data-ended]")).to_be_hidden()
    assert Booking.objects.get(pk=booking.pk).status == "in_progress"
    assert not Rating.objects.filter(booking=booking).exists()
