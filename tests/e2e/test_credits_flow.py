"""Credits as people see them: the cost before booking, the hold when booking, and the
teacher's balance in the header rising live when a session they taught ends."""

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from credits.selectors import credits_summary
from scheduling.models import Booking
from scheduling.services.bookings import booking_request
from scheduling.transitions import booking_accept, booking_join
from tests.e2e.conftest import log_in
from tests.e2e.test_shell import in_fresh_thread
from tests.factories import make_learner, make_slot, make_teacher_with_skills

pytestmark = pytest.mark.browser


def _people():
    teacher = make_teacher_with_skills("Python", username="tia")
    learner = make_learner(username="len")
    return teacher, learner


def _session_under_way(teacher, learner):
    """An hour's session that began 6 minutes ago, the teacher in the room since its start."""
    start = timezone.now().replace(second=0, microsecond=0) - timedelta(minutes=6)
    then = start - timedelta(days=1)
    slot = make_slot(teacher, start=start, now=then)
    booking = booking_request(learner=learner, slot_id=slot.pk, now=then)
    booking_accept(booking_id=booking.pk, teacher=teacher, now=then)
    booking_join(booking_id=booking.pk, user=teacher, now=start)
    booking_join(booking_id=booking.pk, user=learner, now=start)
    return booking


def test_the_cost_shows_before_booking_and_the_teachers_balance_rises_live(start_server, new_page):
    server = start_server(extra_env={"SKILLLINK_ICE_SERVERS": "[]"})
    teacher, learner = in_fresh_thread(_people)
    future = in_fresh_thread(
        lambda: make_slot(teacher, start=timezone.now() + timedelta(days=2), minutes=45)
    )

    # The learner sees what it costs, and what will be left, before asking.
    page = new_page()
    log_in(page, server.url, learner.username)
    expect(page.locator("[data-credits-available]")).to_have_text("120")
    page.goto(f"{server.url}/book/{future.pk}/")
    expect(page.locator("[data-booking-cost]")).to_contain_text("45 credits")
    expect(page.locator("[data-credits-after]")).to_contain_text("120 credits available; 75")
    page.get_by_role("button", name="Request this session for 45 credits").click()
    expect(page.locator("[data-session-credits]")).to_contain_text("45 held")
    expect(page.locator("[data-credits-available]")).to_have_text("75")

    # A session under way: the teacher watches their dashboard while the learner ends it.
    booking = in_fresh_thread(_session_under_way, teacher=teacher, learner=learner)
    teacher_page = new_page()
    log_in(teacher_page, server.url, teacher.username)
    balance = teacher_page.locator("[data-credits-available]")
    expect(balance).to_have_text("120")
    expect(teacher_page.locator("body")).to_have_attribute("data-notifications-socket", "open")

    page.goto(f"{server.url}/sessions/{booking.pk}/room/")
    page.get_by_role("button", name="Join now").click()
    expect(page.locator("[data-room]")).to_have_attribute("data-socket", "open")
    page.get_by_role("button", name="End for both").click()
    ending_from = timezone.now()
    page.get_by_role("dialog").get_by_role("button", name="End for both").click()
    expect(page.locator("[data-ended]")).to_be_visible()
    ending_by = timezone.now()

    # Paid for the whole minutes both were present, rounded up: from the session's start
    # (6 minutes or so before, more on a slow machine) to the moment it ended, which lies
    # between the two clocks read around the click. The teacher's header shows it live.
    def minutes_until(moment):
        return -(-(moment - booking.start) // timedelta(minutes=1))

    paid = in_fresh_thread(lambda: credits_summary(user=teacher)["balance"] - 120)
    assert minutes_until(ending_from) <= paid <= minutes_until(ending_by)
    assert paid >= 6
    expect(balance).to_have_text(str(120 + paid))
    ended = in_fresh_thread(lambda: Booking.objects.get(pk=booking.pk))
    assert ended.status == "completed"
    assert in_fresh_thread(lambda: credits_summary(user=learner)) == {
        "balance": 120 - paid,
        "held": 45,
        "available": 75 - paid,
    }
