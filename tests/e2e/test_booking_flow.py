"""The booking lifecycle in real browsers (issue 4's must-show).

A New York learner books a Berlin teacher's slot from the teacher's page; the
teacher's open dashboard shows the request live, the teacher accepts, and the
learner's session page turns "Scheduled" live. Neither page is reloaded for its
live update. A free learner at the quota is sent to the plans page, upgrades, and
books.

Everything the browsers do runs in the one server process, so its in-memory channel
layer carries the pushes; no Redis is needed.
"""

import re
import zoneinfo
from datetime import timedelta

import pytest
from django.utils import dateformat, timezone
from playwright.sync_api import expect

from accounts.models import Notification, User
from scheduling.models import Booking
from scheduling.quota import quota_usage
from scheduling.services.bookings import booking_request
from tests.e2e.conftest import log_in
from tests.e2e.test_shell import in_fresh_thread
from tests.factories import give_credits, make_learner, make_slot, make_teacher_with_skills

pytestmark = pytest.mark.browser

BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")
NEW_YORK = zoneinfo.ZoneInfo("America/New_York")
# The page's marker: set before a live update, still there after it = no reload.
MARK = "window.__sameDocument = true"
STILL_MARKED = "window.__sameDocument === true"


def local(moment, zone, pattern: str) -> str:
    """``moment`` as the templates print it with ``|date:pattern`` for a viewer in ``zone``."""
    return dateformat.format(moment.astimezone(zone), pattern)


def early_utc_morning(*, days: int):
    """03:00 UTC ``days`` ahead: the evening before in New York, morning in Berlin."""
    return (timezone.now() + timedelta(days=days)).replace(
        hour=3, minute=0, second=0, microsecond=0
    )


def test_learner_books_teacher_accepts_and_both_pages_update_live(live_server_url, new_page):
    base = live_server_url
    teacher = make_teacher_with_skills("Guitar", username="kenji", timezone_name="Europe/Berlin")
    learner = make_learner(username="maya", timezone_name="America/New_York")
    slot = in_fresh_thread(
        make_slot, teacher=teacher, start=early_utc_morning(days=3), skill_slug="guitar"
    )
    # The browsers run in UTC: only the accounts' zones can put times in Berlin / New York.
    teacher_page = new_page()
    learner_page = new_page()

    # The teacher sits on the dashboard with its notifications socket open.
    log_in(teacher_page, base, teacher.username)
    expect(teacher_page.locator("body")).to_have_attribute("data-notifications-socket", "open")
    dashboard_sessions = teacher_page.locator("#sessions-heading").locator(
        "xpath=ancestor::section[1]"
    )
    expect(dashboard_sessions).not_to_contain_text("Waiting for your answer")
    badge = teacher_page.locator("[data-bell] [data-unread-count]")
    expect(badge).to_be_hidden()
    unread_before = int(teacher_page.locator("body").get_attribute("data-unread") or 0)
    teacher_page.evaluate(MARK)

    # The learner finds the slot on the teacher's page and books it with a message.
    log_in(learner_page, base, learner.username)
    learner_page.goto(f"{base}/teachers/{teacher.pk}/")
    expect(learner_page.locator("[data-times-zone]")).to_have_text("Times in America/New_York")
    slot_link = learner_page.locator(f'.slot-links a[href="/book/{slot.pk}/"]')
    # Listed under its day (in New York), the day repeated for screen readers.
    expect(slot_link).to_contain_text(local(slot.start, NEW_YORK, "H:i"))
    expect(slot_link).to_contain_text(local(slot.start, NEW_YORK, "D M j"))
    slot_link.click()
    expect(learner_page).to_have_url(f"{base}/book/{slot.pk}/")
    expect(learner_page.get_by_role("heading", name="Book a session")).to_be_visible()
    learner_when = local(slot.start, NEW_YORK, "l, M j, Y · H:i")
    expect(learner_page.locator(".facts")).to_contain_text(learner_when)
    message = "Fingerpicking basics, please: I know a few chords."
    learner_page.get_by_label("Message to the teacher (optional)").fill(message)
    learner_page.get_by_role("button", name="Request this session").click()

    expect(learner_page).to_have_url(re.compile(rf"^{re.escape(base)}/sessions/\d+/$"))
    booking_id = int(learner_page.url.rstrip("/").rsplit("/", 1)[1])
    status = learner_page.locator("[data-booking-status]")
    expect(status).to_have_text("Requested")
    expect(learner_page.locator(".flash-success")).to_contain_text("Request sent to kenji")
    # The learner sees the start in New York time, as the template formats it.
    when = learner_page.locator("[data-live-region] .facts time").first
    expect(when).to_have_text(learner_when)
    expect(learner_page.locator("[data-live-region] .facts")).to_contain_text("(America/New_York)")
    expect(learner_page.locator("body")).to_have_attribute("data-notifications-socket", "open")
    learner_page.evaluate(MARK)

    # The teacher's dashboard shows the request live, in Berlin time, and the bell rings.
    waiting_row = dashboard_sessions.locator(f'.session-row[data-booking-id="{booking_id}"]')
    expect(dashboard_sessions.locator(".subhead").first).to_have_text("Waiting for your answer")
    expect(waiting_row).to_contain_text("maya wants Guitar")
    expect(waiting_row.locator(".session-when time")).to_have_text(
        local(slot.start, BERLIN, "D M j, H:i")
    )
    expect(badge).to_be_visible()
    expect(badge).to_have_text(str(unread_before + 1))
    expect(teacher_page.locator("[data-live-notifications]")).to_contain_text(
        "maya wants to book Guitar"
    )
    assert teacher_page.evaluate(STILL_MARKED) is True, "the teacher's dashboard reloaded"

    # The teacher accepts from the dashboard row (a form post: this page may navigate now).
    waiting_row.get_by_role("button", name="Accept").click()
    expect(teacher_page.locator(".flash-success")).to_contain_text("Session accepted.")
    expect(teacher_page).to_have_url(f"{base}/dashboard/")
    next_up = dashboard_sessions.locator(f'.session-row[data-booking-id="{booking_id}"]')
    expect(next_up).to_have_attribute("data-status", "scheduled")
    expect(next_up.locator(".status")).to_have_text("Scheduled")
    expect(dashboard_sessions).not_to_contain_text("Waiting for your answer")

    # The learner's page, never reloaded, turns "Scheduled" and is told.
    expect(status).to_have_text("Scheduled")
    expect(learner_page.locator("[data-live-region] > section.card").first).to_have_attribute(
        "data-status", "scheduled"
    )
    expect(learner_page.locator("[data-toasts]")).to_contain_text("kenji accepted your Guitar")
    expect(when).to_have_text(learner_when)
    assert learner_page.evaluate(STILL_MARKED) is True, "the learner's session page reloaded"

    # The teacher's view of the same session is in Berlin time.
    teacher_page.goto(f"{base}/sessions/{booking_id}/")
    expect(teacher_page.locator("[data-booking-status]")).to_have_text("Scheduled")
    expect(teacher_page.locator("[data-live-region] .facts time").first).to_have_text(
        local(slot.start, BERLIN, "l, M j, Y · H:i")
    )
    expect(teacher_page.locator("[data-live-region] .facts")).to_contain_text(message)

    booking = Booking.objects.get(pk=booking_id)
    assert booking.status == Booking.Status.SCHEDULED
    assert (booking.learner_id, booking.teacher_id, booking.slot_id) == (
        learner.pk,
        teacher.pk,
        slot.pk,
    )
    assert booking.message == message
    assert booking.skill.slug == "guitar"
    assert booking.accepted_at is not None
    assert Booking.objects.filter(slot=slot).count() == 1
    assert Notification.objects.filter(user=teacher, kind="booking.requested").count() == 1
    assert Notification.objects.filter(user=learner, kind="booking.accepted").count() == 1


def test_free_learner_at_quota_upgrades_and_books(live_server_url, new_page):
    base = live_server_url
    teacher = make_teacher_with_skills("Spanish", username="lucia", timezone_name="Europe/Berlin")
    learner = make_learner(username="omar", timezone_name="America/New_York")

    def two_bookings_and_a_third_slot():
        give_credits(learner, 200)  # a third hour, beyond the sign-up grant
        taken = [
            make_slot(teacher, start=early_utc_morning(days=days), skill_slug="spanish")
            for days in (2, 3)
        ]
        for slot in taken:
            booking_request(learner=learner, slot_id=slot.pk)
        return make_slot(teacher, start=early_utc_morning(days=4), skill_slug="spanish")

    third = in_fresh_thread(two_bookings_and_a_third_slot)
    used, frees_at = quota_usage(learner=learner, now=timezone.now())
    assert used == 2 and frees_at is not None

    page = new_page()
    log_in(page, base, learner.username)
    page.goto(f"{base}/book/{third.pk}/")
    expect(page.get_by_text("Free plan: 2 of 2 bookings used")).to_be_visible()
    page.get_by_label("Message to the teacher (optional)").fill("Third one this week")
    page.get_by_role("button", name="Request this session").click()

    # Refused: the plans page, with the usage and when a place frees up (New York time).
    expect(page).to_have_url(f"{base}/upgrade/?next=/book/{third.pk}/")
    expect(page.locator(".flash-warning")).to_contain_text("Free accounts book 2 sessions")
    head = page.locator(".page-head")
    expect(head).to_contain_text("You've used 2 of 2 bookings in the last 7 days")
    expect(head.locator("strong")).to_have_text("2 of 2")
    expect(head.locator("time")).to_have_text(local(frees_at, NEW_YORK, "D M j, H:i"))
    assert Booking.objects.filter(learner=learner).count() == 2

    expect(page.locator("[data-premium-price]")).to_contain_text("9.00 EUR")
    page.get_by_role("link", name="Upgrade to premium").click()

    # The confirmation step says what is charged; nothing is charged before it.
    expect(page).to_have_url(f"{base}/upgrade/confirm/?next=/book/{third.pk}/")
    expect(page.locator("[data-upgrade-total]")).to_contain_text("9.00 EUR")
    assert not User.objects.get(pk=learner.pk).is_premium(timezone.now())
    page.get_by_role("button", name="Pay 9.00 EUR and upgrade").click()

    # Back on the booking page, premium at once (same session, no new login), with the
    # message typed before the detour.
    expect(page).to_have_url(f"{base}/book/{third.pk}/")
    expect(page.locator(".flash-success")).to_contain_text("You're premium until")
    expect(page.get_by_text("Free plan:")).to_have_count(0)
    expect(page.get_by_label("Message to the teacher (optional)")).to_have_value(
        "Third one this week"
    )
    page.get_by_role("button", name="Request this session").click()

    expect(page).to_have_url(re.compile(rf"^{re.escape(base)}/sessions/\d+/$"))
    expect(page.locator("[data-booking-status]")).to_have_text("Requested")
    booking_id = int(page.url.rstrip("/").rsplit("/", 1)[1])
    booking = Booking.objects.get(pk=booking_id)
    assert (booking.slot_id, booking.learner_id, booking.status) == (
        third.pk,
        learner.pk,
        Booking.Status.REQUESTED,
    )
    assert Booking.objects.filter(learner=learner).count() == 3
    assert booking.message == "Third one this week"
    learner = User.objects.get(pk=learner.pk)
    assert learner.is_premium(timezone.now())
    assert learner.subscription_expiry > timezone.now() + timedelta(days=29)
