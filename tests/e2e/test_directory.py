"""Issue 15 in real browsers: the public directory, choosing a time like on Cal.com, a
question before booking, and premium bought only after a confirmation step.

Everything the browsers do runs in the one server process (its in-memory channel layer
carries the live notifications); no Redis is needed.
"""

import re
import zoneinfo

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from accounts.models import Notification, TeacherQuestion, User
from accounts.services import user_update_profile
from scheduling.models import Booking
from tests.e2e.conftest import log_in
from tests.e2e.test_booking_flow import early_utc_morning, local
from tests.e2e.test_shell import in_fresh_thread
from tests.factories import PASSWORD, make_learner, make_slot, make_teacher_with_skills

pytestmark = pytest.mark.browser

NEW_YORK = zoneinfo.ZoneInfo("America/New_York")
TOKYO = zoneinfo.ZoneInfo("Asia/Tokyo")


def test_a_visitor_browses_teachers_picks_a_time_logs_in_and_comes_back_to_that_slot(
    live_server_url, new_page
):
    base = live_server_url
    teacher = make_teacher_with_skills("Guitar", username="kenji", timezone_name="Europe/Berlin")
    in_fresh_thread(user_update_profile, user=teacher, headline="Fingerstyle guitar, patiently")
    slot = in_fresh_thread(
        make_slot, teacher=teacher, start=early_utc_morning(days=2), skill_slug="guitar"
    )
    learner = make_learner(username="maya", timezone_name="America/New_York")

    # Signed out, in New York: the directory is readable, in the browser's zone.
    page = new_page(timezone_id="America/New_York")
    page.goto(f"{base}/teachers/")
    expect(page.locator("[data-viewer-zone]").first).to_have_attribute(
        "data-viewer-zone", "America/New_York"
    )
    card = page.locator('[data-teacher-card="kenji"]')
    expect(card.locator("[data-headline]")).to_have_text("Fingerstyle guitar, patiently")
    expect(card.locator("[data-price]")).to_contain_text("60")
    expect(card).to_contain_text("Guitar · Intermediate")
    expect(card.locator(".avatar")).to_have_text("K")  # no photo yet: initials
    expect(card.get_by_role("link", name=re.compile(r"^Book a time with kenji"))).to_be_visible()
    time_button = card.locator(f'a.time-button[href="/book/{slot.pk}/"]')
    expect(time_button).to_contain_text(local(slot.start, NEW_YORK, "D M j, H:i"))

    # The profile has its own URL by name; the old one by id leads there.
    page.goto(f"{base}/teachers/{teacher.pk}/")
    expect(page).to_have_url(f"{base}/teachers/kenji/")
    expect(page.get_by_role("heading", name="kenji", exact=True)).to_be_visible()
    page.go_back()

    # The time button: the slot's summary, then log in and land back on it.
    time_button.click()
    expect(page).to_have_url(f"{base}/book/{slot.pk}/")
    facts = page.locator("[data-booking-facts]")
    expect(facts).to_contain_text(local(slot.start, NEW_YORK, "l, M j, Y · H:i"))
    expect(facts).to_contain_text("60 minutes")
    page.get_by_role("link", name="Log in to book").click()
    expect(page).to_have_url(f"{base}/accounts/login/?next=/book/{slot.pk}/")
    page.get_by_label("Username").fill(learner.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(f"{base}/book/{slot.pk}/")
    page.get_by_label("Message to the teacher (optional)").fill("Travis picking, please")
    page.get_by_role("button", name="Request this session").click()
    expect(page).to_have_url(re.compile(rf"^{re.escape(base)}/sessions/\d+/$"))
    booking = Booking.objects.get(slot=slot)
    assert (booking.learner_id, booking.message) == (learner.pk, "Travis picking, please")


def test_times_listed_per_day_beside_a_calendar_scrolled_to_the_first_one_and_a_full_summary(
    live_server_url, new_page
):
    base = live_server_url
    teacher = make_teacher_with_skills("Guitar", "Piano", username="lena")
    # 11:00 UTC = 20:00 in Tokyo: far below the 08:00 a fixed scroll would show.
    start = early_utc_morning(days=3).replace(hour=11)
    slot = in_fresh_thread(make_slot, teacher=teacher, start=start, minutes=45)
    later = in_fresh_thread(make_slot, teacher=teacher, start=start.replace(hour=12), minutes=30)
    make_learner(username="kaito", timezone_name="Asia/Tokyo")

    page = new_page(timezone_id="Asia/Tokyo")
    log_in(page, base, "kaito")
    page.goto(f"{base}/teachers/lena/")
    expect(page.locator("[data-times-zone]")).to_have_text("Times in Asia/Tokyo")

    # The list: one heading per day in Tokyo, the times under it.
    day = page.locator("[data-slot-days] .slot-day").first
    expect(day.locator("h4")).to_have_text(local(slot.start, TOKYO, "l j F"))
    links = day.locator("a")
    expect(links).to_have_count(2)
    expect(links.nth(0)).to_contain_text(f"{local(slot.start, TOKYO, 'H:i')}\u201320:45")
    expect(links.nth(1)).to_have_attribute("href", f"/book/{later.pk}/")

    # Beside the calendar (wide screen), which opened scrolled to 19:00, not 08:00.
    listing, calendar = page.locator(".times-days"), page.locator(".times-calendar")
    assert listing.bounding_box()["x"] > calendar.bounding_box()["x"] + 200
    event = page.locator(f'a.fc-event[href="/book/{slot.pk}/"]')
    expect(event).to_be_visible()
    scroller = page.locator(".fc-timegrid-body").locator(
        "xpath=ancestor::div[contains(@class,'fc-scroller')][1]"
    )
    view, placed = scroller.bounding_box(), event.bounding_box()
    assert view["y"] <= placed["y"] and placed["y"] + placed["height"] <= view["y"] + view["height"]
    assert scroller.evaluate("el => el.scrollTop") > 0

    # The confirmation restates time, length, skill choice and cost.
    links.nth(0).click()
    expect(page).to_have_url(f"{base}/book/{slot.pk}/")
    facts = page.locator("[data-booking-facts]")
    expect(facts.locator("[data-booking-when]")).to_have_text(
        f"{local(slot.start, TOKYO, 'l, M j, Y · H:i')}\u201320:45"
    )
    expect(facts).to_contain_text("(Asia/Tokyo)")
    expect(facts.locator("[data-booking-length]")).to_have_text("45 minutes")
    expect(facts.locator("[data-booking-skill]")).to_contain_text("Any skill lena teaches")
    expect(facts.locator("[data-booking-cost]")).to_contain_text("45 credits")

    # A message typed, then a look at the plans page: it is still there on return.
    page.get_by_label("What do you want to learn?").select_option("piano")
    page.get_by_label("Message to the teacher (optional)").fill("Chopin nocturnes")
    page.get_by_role("link", name="Premium").click()
    expect(page).to_have_url(f"{base}/upgrade/?next=/book/{slot.pk}/")
    page.go_back()
    expect(page.get_by_label("Message to the teacher (optional)")).to_have_value("Chopin nocturnes")
    page.goto(f"{base}/book/{slot.pk}/")  # a fresh load, not the back-forward cache
    expect(page.get_by_label("Message to the teacher (optional)")).to_have_value("Chopin nocturnes")
    expect(page.get_by_label("What do you want to learn?")).to_have_value("piano")


def test_a_learner_asks_a_question_the_teacher_replies_from_the_notification(
    live_server_url, new_page
):
    base = live_server_url
    make_teacher_with_skills("Cello", username="yo")
    make_learner(username="ann")

    teacher_page = new_page()
    log_in(teacher_page, base, "yo")
    expect(teacher_page.locator("body")).to_have_attribute("data-notifications-socket", "open")
    badge = teacher_page.locator("[data-bell] [data-unread-count]")

    learner_page = new_page()
    log_in(learner_page, base, "ann")
    learner_page.goto(f"{base}/teachers/yo/")
    form = learner_page.locator("[data-question-form]")
    # A control character is refused with a message, and the text is kept to fix.
    form.get_by_label("Your question").fill("Do you teach\u0007 beginners?")
    form.get_by_role("button", name="Send question").click()
    expect(learner_page.locator(".flash-error")).to_contain_text("control characters")
    assert not TeacherQuestion.objects.exists()
    form.get_by_label("Your question").fill("Do you teach complete beginners?")
    form.get_by_role("button", name="Send question").click()
    expect(learner_page.locator(".flash-success")).to_contain_text("Question sent to yo")
    expect(learner_page).to_have_url(f"{base}/teachers/yo/#ask")

    # The teacher's bell rings live; the notification links to the reply page.
    expect(badge).to_have_text("1")
    teacher_page.locator("[data-bell-button]").click()
    item = teacher_page.locator("[data-bell-list] a", has_text="ann asks you a question")
    item.click()
    question = TeacherQuestion.objects.get()
    expect(teacher_page).to_have_url(f"{base}/questions/{question.pk}/")
    expect(teacher_page.locator("[data-question-body]")).to_contain_text(
        "Do you teach complete beginners?"
    )
    teacher_page.get_by_label("Your reply").fill("Yes: bring curiosity, I bring a cello.")
    teacher_page.get_by_role("button", name="Send reply").click()
    expect(teacher_page.locator(".flash-success")).to_contain_text("Reply sent to ann")

    # The learner is told and reads the reply.
    learner_badge = learner_page.locator("[data-bell] [data-unread-count]")
    expect(learner_badge).to_have_text("1")
    reply = Notification.objects.get(user__username="ann", kind="question.answered")
    learner_page.goto(f"{base}{reply.url}")
    expect(learner_page.locator("[data-question-reply]")).to_contain_text("I bring a cello")


def test_upgrade_shows_the_price_and_charges_only_after_confirming(live_server_url, new_page):
    base = live_server_url
    learner = make_learner(username="penny")
    page = new_page()
    log_in(page, base, "penny")
    page.goto(f"{base}/upgrade/")
    expect(page.locator("[data-premium-price]")).to_contain_text("9.00 EUR")
    page.get_by_role("link", name="Upgrade to premium").click()
    expect(page).to_have_url(f"{base}/upgrade/confirm/")
    expect(page.get_by_role("heading", name="Upgrade to premium?")).to_be_visible()
    expect(page.locator("[data-upgrade-total]")).to_contain_text("9.00 EUR")

    # Cancel: back to the plans, still free.
    page.get_by_role("link", name="Cancel").click()
    expect(page).to_have_url(f"{base}/upgrade/")
    assert not User.objects.get(pk=learner.pk).is_premium(timezone.now())

    page.get_by_role("link", name="Upgrade to premium").click()
    page.get_by_role("button", name="Pay 9.00 EUR and upgrade").click()
    expect(page).to_have_url(f"{base}/upgrade/")
    expect(page.locator(".flash-success")).to_contain_text("You're premium until")
    expect(page.get_by_role("link", name="Extend by 30 days")).to_be_visible()
    assert User.objects.get(pk=learner.pk).is_premium(timezone.now())
