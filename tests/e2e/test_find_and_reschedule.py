"""Issue 15, points 4 and 5, in a real browser.

4. "Find me a teacher" shows the best match (teacher, time, skill, cost) for a skill
   chosen by the learner (none preselected) inside the time of day they set, books only on
   confirm, and when the slot was taken meanwhile says so and shows the next best.
5. A learner asks to move a scheduled session to another open time of the teacher; the
   teacher sees the request live and accepts (the session moves, live on the learner's
   page) or declines (it keeps its time).

Screenshots of the find page (proposal shown) and of the session page with a pending move
go to ``/tmp/shots-reschedule/`` (light and dark, 1280 and 390 px).
"""

import os
import zoneinfo
from datetime import datetime, time, timedelta
from pathlib import Path

import pytest
from django.utils import dateformat
from playwright.sync_api import expect

from scheduling.models import Booking, RescheduleRequest
from scheduling.services.bookings import booking_request
from scheduling.transitions import booking_accept
from tests.e2e.conftest import log_in
from tests.e2e.test_shell import in_fresh_thread
from tests.factories import make_learner, make_slot, make_teacher_with_skills

pytestmark = pytest.mark.browser

BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")
# Where the screenshots of the brief go (they are looked at, not compared).
SHOTS = Path(os.environ.get("SKILLLINK_SHOTS", "/tmp/shots-reschedule"))  # noqa: S108
MARK = "window.__sameDocument = true"
STILL_MARKED = "window.__sameDocument === true"


def berlin(day_offset: int, hour: int, minute: int = 0) -> datetime:
    today = datetime.now(BERLIN).date()
    return datetime.combine(today + timedelta(days=day_offset), time(hour, minute), tzinfo=BERLIN)


def shown(moment: datetime, pattern: str = "l, M j, Y · H:i") -> str:
    return dateformat.format(moment.astimezone(BERLIN), pattern)


def shoot(page, name: str) -> None:
    """Full-page screenshots in both themes at 1280 and 390 px (then back to 1280, light)."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    for width, height in ((1280, 800), (390, 844)):
        page.set_viewport_size({"width": width, "height": height})
        for theme in ("light", "dark"):
            page.emulate_media(color_scheme=theme)
            page.screenshot(path=str(SHOTS / f"{name}-{theme}-{width}.png"), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 800})
    page.emulate_media(color_scheme="light")


def test_find_proposes_within_the_time_of_day_and_books_only_on_confirm(live_server_url, new_page):
    base = live_server_url
    teacher = make_teacher_with_skills("Python", "Guitar", username="kenji")
    learner = make_learner(username="maya", timezone_name="Europe/Berlin")
    in_fresh_thread(make_slot, teacher=teacher, start=berlin(1, 12))  # noon: outside 18-21
    evening = in_fresh_thread(make_slot, teacher=teacher, start=berlin(2, 19))
    next_best = in_fresh_thread(make_slot, teacher=teacher, start=berlin(3, 18, 30))
    page = new_page()
    log_in(page, base, learner.username)
    page.goto(f"{base}/match/")
    skill = page.get_by_label("Skill", exact=True)
    expect(skill).to_have_value("")  # no skill preselected
    skill.select_option("python")
    page.get_by_label("From", exact=True).fill(shown(berlin(1, 0), "Y-m-d\\TH:i"))
    page.get_by_label("Until").fill(shown(berlin(5, 0), "Y-m-d\\TH:i"))
    page.get_by_label("Only from (time of day)").select_option("18:00")
    page.get_by_label("to", exact=True).select_option("21:00")
    page.get_by_role("button", name="Show the best match").click()

    proposal = page.locator("[data-proposal]")
    expect(proposal).to_contain_text("Best match")
    expect(proposal.locator("[data-proposal-teacher]")).to_have_text("kenji")
    expect(proposal.locator("[data-proposal-time]")).to_contain_text(shown(evening.start))
    expect(proposal.locator("[data-proposal-skill]")).to_have_text("Python")
    expect(proposal.locator("[data-proposal-cost]")).to_contain_text("60 credits")
    assert not Booking.objects.exists()  # proposed, not booked
    shoot(page, "find-proposal")

    # Someone else books that very slot before the learner confirms.
    in_fresh_thread(booking_request, learner=make_learner(), slot_id=evening.pk)
    page.get_by_label("Message to the teacher (optional)").fill("Decorators, please")
    page.locator("[data-confirm-match]").click()
    expect(page.locator(".flash")).to_contain_text("taken by someone else a moment ago")
    expect(proposal.locator("[data-proposal-time]")).to_contain_text(shown(next_best.start))
    assert not Booking.objects.filter(learner=learner).exists()

    page.locator("[data-confirm-match]").click()
    booking = Booking.objects.get(learner=learner)
    expect(page).to_have_url(f"{base}/sessions/{booking.pk}/")
    assert booking.slot_id == next_best.pk and booking.skill.slug == "python"
    expect(page.locator(".flash")).to_contain_text("Request sent to kenji")


def test_find_without_a_fit_offers_to_wait_and_refuses_a_duplicate(live_server_url, page):
    base = live_server_url
    make_teacher_with_skills("Python", username="kenji")  # teaches it, no open time
    learner = make_learner(username="maya", timezone_name="Europe/Berlin")
    log_in(page, base, learner.username)
    page.goto(f"{base}/match/")
    page.get_by_label("Skill", exact=True).select_option("python")
    page.get_by_role("button", name="Show the best match").click()
    expect(page.locator("[data-no-match]")).to_contain_text("No Python teacher is free then.")
    search = page.url
    page.get_by_role("button", name="Keep looking for me").click()
    expect(page.locator(".flash")).to_contain_text("No teacher is free in that window yet")
    page.goto(search)  # the same search again
    page.get_by_role("button", name="Keep looking for me").click()
    expect(page.locator(".flash")).to_contain_text("already waiting for a Python teacher")


def scheduled_session(teacher, learner, start):
    slot = make_slot(teacher, start=start)
    booking = booking_request(learner=learner, slot_id=slot.pk)
    return booking_accept(booking_id=booking.pk, teacher=teacher)


def test_learner_asks_to_move_teacher_accepts_live_and_both_pages_follow(live_server_url, new_page):
    base = live_server_url
    teacher = make_teacher_with_skills("Python", username="kenji", timezone_name="Europe/Berlin")
    learner = make_learner(username="maya", timezone_name="Europe/Berlin")
    booking = in_fresh_thread(
        scheduled_session, teacher=teacher, learner=learner, start=berlin(2, 10)
    )
    later = in_fresh_thread(make_slot, teacher=teacher, start=berlin(3, 17), minutes=90)
    teacher_page, learner_page = new_page(), new_page()
    log_in(teacher_page, base, teacher.username)
    teacher_page.goto(f"{base}/sessions/{booking.pk}/")
    expect(teacher_page.locator("body")).to_have_attribute("data-notifications-socket", "open")
    teacher_page.evaluate(MARK)

    log_in(learner_page, base, learner.username)
    learner_page.goto(f"{base}/sessions/{booking.pk}/")
    learner_page.get_by_text("Move to another time…").click()
    learner_page.get_by_label(shown(later.start, "D M j, H:i"), exact=False).check()
    learner_page.get_by_label("Message to kenji (optional)").fill("A meeting came up")
    learner_page.get_by_role("button", name="Ask to move it").click()
    pending = learner_page.locator("[data-reschedule-pending]")
    expect(pending).to_contain_text("You asked to move it to")
    expect(pending.locator("[data-reschedule-time]")).to_contain_text(shown(later.start))
    expect(pending).to_contain_text("90 credits instead of 60")

    # The teacher's page shows the request without a reload.
    teacher_pending = teacher_page.locator("[data-reschedule-pending]")
    expect(teacher_pending).to_contain_text("maya asks to move it to")
    expect(teacher_pending).to_contain_text("A meeting came up")
    assert teacher_page.evaluate(STILL_MARKED)
    shoot(learner_page, "session-pending-move-learner")
    shoot(teacher_page, "session-pending-move-teacher")

    learner_page.evaluate(MARK)
    teacher_page.get_by_role("button", name="Accept the new time").click()
    expect(teacher_page.locator(".flash")).to_contain_text("Session moved to the new time.")
    # The learner's page follows live: new time, no pending request.
    expect(learner_page.locator("dl.facts")).to_contain_text(shown(later.start))
    expect(learner_page.locator("[data-reschedule-pending]")).to_have_count(0)
    assert learner_page.evaluate(STILL_MARKED)
    moved = Booking.objects.get(pk=booking.pk)
    assert (moved.slot_id, moved.start, moved.status) == (later.pk, later.start, "scheduled")
    assert RescheduleRequest.objects.get().status == "accepted"


def test_teacher_declines_a_move_and_the_session_keeps_its_time(live_server_url, new_page):
    base = live_server_url
    teacher = make_teacher_with_skills("Python", username="kenji", timezone_name="Europe/Berlin")
    learner = make_learner(username="maya", timezone_name="Europe/Berlin")
    booking = in_fresh_thread(
        scheduled_session, teacher=teacher, learner=learner, start=berlin(2, 10)
    )
    later = in_fresh_thread(make_slot, teacher=teacher, start=berlin(4, 9))
    learner_page = new_page()
    log_in(learner_page, base, learner.username)
    learner_page.goto(f"{base}/sessions/{booking.pk}/")
    learner_page.get_by_text("Move to another time…").click()
    shoot(learner_page, "session-move-form")
    learner_page.get_by_role("button", name="Ask to move it").click()
    expect(learner_page.locator("[data-reschedule-pending]")).to_be_visible()

    teacher_page = new_page()
    log_in(teacher_page, base, teacher.username)
    teacher_page.goto(f"{base}/sessions/{booking.pk}/")
    expect(teacher_page.get_by_role("button", name="Accept the new time")).to_be_visible()
    teacher_page.locator("[data-reschedule-pending] summary").click()
    teacher_page.get_by_label("Reason (optional, shown to the learner)").fill("Away that day")
    teacher_page.get_by_role("button", name="Keep the current time").click()
    expect(teacher_page.locator(".flash")).to_contain_text("keeps its time")
    expect(learner_page.locator("[data-reschedule-pending]")).to_have_count(0)
    expect(learner_page.locator("dl.facts")).to_contain_text(shown(booking.start))
    kept = Booking.objects.get(pk=booking.pk)
    assert (kept.slot_id, kept.start) == (booking.slot_id, booking.start)
    assert later.pk != kept.slot_id
    assert RescheduleRequest.objects.get().status == "declined"
