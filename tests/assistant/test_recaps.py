"""Post-session recaps: written in the background after completion (recaps_run_due),
stored on the session, shown to both, the learner notified; failures recorded, the
session left completed; one recap per session even with two workers at once."""

import threading
from datetime import timedelta

import pytest
from django.db import close_old_connections
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import Notification
from assistant.models import Exchange, SessionRecap
from assistant.services import recaps_run_due
from meetings.models import ChatMessage
from scheduling.models import Booking
from scheduling.transitions import booking_complete, booking_join
from tests.assistant.fake_gemini import Reply
from tests.assistant.html_check import assert_harmless
from tests.assistant.rooms import _scheduled
from tests.conftest import access_token_for
from tests.factories import make_learner

pytestmark = pytest.mark.django_db(transaction=True)

RECAP = (
    "### What was covered\nGenerators and `yield`.\n\n### Action items\n- Rewrite the "
    "loop as a generator\n\n### Suggested next topic\nAsync generators <script>x</script>"
)


def completed_session(*, chat=("How does yield work?", "It pauses the function."), message=""):
    """A session that began 30 minutes ago, with ``chat``, ended now by its teacher."""
    booking, learner, teacher = _scheduled(message=message, starts_in=timedelta(minutes=-30))
    booking_join(booking_id=booking.pk, user=learner)
    booking_join(booking_id=booking.pk, user=teacher)
    for n, text in enumerate(chat):
        sender = learner if n % 2 == 0 else teacher
        ChatMessage.objects.create(booking=booking, sender=sender, text=text)
    booking_complete(booking_id=booking.pk, user=teacher)
    return Booking.objects.get(pk=booking.pk), learner, teacher


def test_recap_is_written_after_completion_shown_to_both_and_the_learner_notified(gemini):
    booking, learner, teacher = completed_session(message="I want to learn generators")
    Exchange.objects.create(
        booking=booking,
        asked_by=learner,
        prompt="What does yield return?",
        status="done",
        markdown="A generator object.",
        model="m",
        deadline_at=timezone.now(),
    )
    gemini.add(Reply.text(RECAP))
    assert recaps_run_due() == 1

    recap = SessionRecap.objects.get(booking=booking)
    assert (recap.status, recap.markdown, recap.model) == ("done", RECAP, "gemini-2.5-flash")
    assert "<h3>What was covered</h3>" in recap.html
    assert_harmless(recap.html)
    [sent] = gemini.requests
    assert sent.action == "generateContent"
    assert "recap of a finished one-to-one SkillLink session" in sent.system_instruction
    assert f"Teacher: {teacher.username}. Learner: {learner.username}." in sent.system_instruction
    assert "How does yield work?" in sent.user_text and "It pauses the function." in sent.user_text
    assert "What does yield return?" in sent.user_text and "A generator object." in sent.user_text
    assert "I want to learn generators" in sent.user_text
    assert sent.generation_config["maxOutputTokens"] == 800

    [notice] = Notification.objects.filter(kind="assistant.recap")
    assert notice.user == learner and notice.url == f"/sessions/{booking.pk}/#recap"
    assert not Notification.objects.filter(kind="assistant.recap", user=teacher).exists()

    for person in (learner, teacher):
        page = Client()
        page.force_login(person)
        html = page.get(f"/sessions/{booking.pk}/").content.decode()
        assert 'id="recap"' in html and "<h3>What was covered</h3>" in html
        assert "Questions to the assistant (1)" in html
    stranger = Client()
    stranger.force_login(make_learner())
    assert stranger.get(f"/sessions/{booking.pk}/").status_code == 404

    # Idempotent: nothing left to do.
    assert recaps_run_due() == 0
    assert len(gemini.requests) == 1


def test_recap_failure_records_why_and_the_session_stays_completed(gemini):
    booking, learner, _ = completed_session()
    gemini.add(Reply.error(500), Reply.error(500))
    assert recaps_run_due() == 1
    recap = SessionRecap.objects.get(booking=booking)
    assert recap.status == "failed" and "HTTP 500" in recap.error
    assert Booking.objects.get(pk=booking.pk).status == "completed"
    assert not Notification.objects.filter(kind="assistant.recap").exists()
    page = Client()
    page.force_login(learner)
    assert "The recap could not be written: The AI service failed (HTTP 500)" in (
        page.get(f"/sessions/{booking.pk}/").content.decode()
    )
    assert recaps_run_due() == 0  # failed is final: no retry loop against a broken service


def test_a_timeout_is_a_failure_too(gemini):
    booking, _, _ = completed_session()
    gemini.add(Reply.hang(5), Reply.hang(5))
    assert recaps_run_due() == 1
    recap = SessionRecap.objects.get(booking=booking)
    assert recap.status == "failed" and "did not answer within" in recap.error


def test_a_session_where_nothing_was_written_is_skipped_without_asking_the_model(gemini):
    booking, _, _ = completed_session(chat=())
    assert recaps_run_due() == 1
    recap = SessionRecap.objects.get(booking=booking)
    assert recap.status == "skipped" and "nothing to recap" in recap.error
    assert gemini.requests == []
    assert not Notification.objects.filter(kind="assistant.recap").exists()


def test_completing_a_session_does_not_write_its_recap_in_that_request(gemini):
    booking, learner, teacher = _scheduled(starts_in=timedelta(minutes=-30))
    booking_join(booking_id=booking.pk, user=learner)
    booking_join(booking_id=booking.pk, user=teacher)
    ChatMessage.objects.create(booking=booking, sender=learner, text="hi")
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {access_token_for(learner)}")
    response = api.post(f"/api/bookings/{booking.pk}/complete/")
    assert response.status_code == 200 and response.json()["status"] == "completed"
    assert not SessionRecap.objects.exists()
    assert gemini.requests == []
    page = Client()
    page.force_login(learner)
    assert (
        "The assistant is writing a recap" in page.get(f"/sessions/{booking.pk}/").content.decode()
    )


def test_without_a_key_no_recap_is_attempted(no_gemini):
    completed_session()
    assert recaps_run_due() == 0
    assert not SessionRecap.objects.exists() and no_gemini.requests == []


def test_sessions_that_ended_long_ago_get_no_recap(gemini):
    completed_session()
    assert recaps_run_due(now=timezone.now() + timedelta(days=3)) == 0
    assert not SessionRecap.objects.exists()


def test_sessions_not_completed_get_no_recap(gemini):
    booking, learner, _ = _scheduled()
    booking_join(booking_id=booking.pk, user=learner)
    assert recaps_run_due() == 0


def test_limit_bounds_one_run(gemini):
    for _ in range(3):
        completed_session()
    assert recaps_run_due(limit=2) == 2
    assert recaps_run_due(limit=2) == 1
    assert SessionRecap.objects.filter(status="done").count() == 3


def test_a_claim_left_by_a_dead_worker_is_taken_over_after_its_lease(gemini):
    booking, _, _ = completed_session()
    SessionRecap.objects.create(booking=booking, claimed_at=timezone.now() - timedelta(minutes=30))
    assert recaps_run_due() == 1
    recap = SessionRecap.objects.get(booking=booking)
    assert (recap.status, recap.attempts) == ("done", 2)


def test_a_running_claim_within_its_lease_is_left_alone(gemini):
    booking, _, _ = completed_session()
    SessionRecap.objects.create(booking=booking)
    assert recaps_run_due() == 0
    assert gemini.requests == []


def test_two_workers_at_once_write_each_recap_once(gemini):
    sessions = [completed_session()[0] for _ in range(3)]
    gemini.default = Reply.text(RECAP, first_delay=0.3)  # both workers are mid-call together
    results, errors = [], []
    barrier = threading.Barrier(2)

    def worker():
        try:
            barrier.wait()
            results.append(recaps_run_due())
        except Exception as error:
            errors.append(error)
        finally:
            close_old_connections()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not errors
    assert sum(results) == 3
    assert len(gemini.requests) == 3
    assert SessionRecap.objects.filter(status="done").count() == 3
    assert Notification.objects.filter(kind="assistant.recap").count() == 3
    assert {r.booking_id for r in SessionRecap.objects.all()} == {s.pk for s in sessions}


def test_the_periodic_jobs_command_runs_it(gemini):
    from io import StringIO

    from django.core.management import call_command

    completed_session()
    out = StringIO()
    call_command("sweep", stdout=out)
    assert "recaps=1" in out.getvalue().split()
