"""The rules that must hold across server processes, raced with real threads (each its own
database connection): one answer per room, and a daily quota two tabs cannot overdraw."""

import threading
from datetime import timedelta

import pytest
from django.db import close_old_connections
from django.utils import timezone

from accounts.models import User
from assistant.models import Exchange
from assistant.services import exchange_start
from skilllink.errors import AppError
from tests.assistant.rooms import _scheduled
from tests.factories import make_learner

pytestmark = pytest.mark.django_db(transaction=True)


def race(calls):
    """Run the calls at once (a barrier releases them together); their results or AppErrors."""
    barrier = threading.Barrier(len(calls))
    results = [None] * len(calls)

    def run(index, call):
        try:
            barrier.wait()
            results[index] = call()
        except AppError as error:
            results[index] = error
        finally:
            close_old_connections()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return results


def test_two_questions_at_once_in_one_room_one_is_accepted(gemini):
    booking, learner, teacher = _scheduled()
    results = race(
        [
            lambda: exchange_start(user=learner, prompt="a", booking_id=booking.pk),
            lambda: exchange_start(user=teacher, prompt="b", booking_id=booking.pk),
        ]
    )
    refused = [r for r in results if isinstance(r, AppError)]
    assert len(refused) == 1 and refused[0].code == "assistant_in_progress"
    assert Exchange.objects.filter(status="streaming").count() == 1


def test_the_last_question_of_the_day_cannot_be_taken_twice(gemini, settings):
    settings.ASSISTANT_DAILY_PROMPTS = 1
    user = make_learner()
    results = race([lambda: exchange_start(user=user, prompt="tab one")] * 3)
    refused = [r for r in results if isinstance(r, AppError)]
    assert [r.code for r in refused] == ["rate_limited", "rate_limited"]
    assert Exchange.objects.filter(asked_by=user).count() == 1


def test_an_upgrade_counts_at_once_even_for_a_stale_user_object(gemini, settings):
    settings.ASSISTANT_DAILY_PROMPTS = 1
    settings.ASSISTANT_DAILY_PROMPTS_PREMIUM = 5
    user = make_learner()
    stale = User.objects.get(pk=user.pk)  # as a socket holds it from its connect
    exchange_start(user=stale, prompt="one").exchange.delete()
    Exchange.objects.create(
        asked_by=user, prompt="used", model="m", status="done", deadline_at=timezone.now()
    )
    User.objects.filter(pk=user.pk).update(
        subscription_type="premium", subscription_expiry=timezone.now() + timedelta(days=30)
    )
    assert exchange_start(user=stale, prompt="two").exchange.pk
