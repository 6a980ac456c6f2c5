"""Races on PostgreSQL with real threads, each on its own connection: the row locks and the
database guards decide, as they would between server processes."""

import threading

import pytest
from django.db import IntegrityError, connection, transaction

from credits.models import Account, LedgerEntry, Transfer
from credits.selectors import credits_summary
from credits.services import credits_hold, credits_release, credits_settle
from skilllink.errors import AppError
from tests.conftest import skip_unless_postgres
from tests.credits.invariants import ledger_problems
from tests.factories import make_learner, make_teacher, make_user

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def race(calls) -> list:
    """Run each call on its own thread, all released at once; their results (or errors)."""
    barrier = threading.Barrier(len(calls))
    results: list = [None] * len(calls)

    def run(index, call):
        barrier.wait()
        try:
            results[index] = call()
        except Exception as error:
            results[index] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_ten_parallel_holds_with_credits_for_one_hold_once_and_refuse_nine(settings):
    skip_unless_postgres()
    settings.CREDITS_SIGNUP_GRANT = 60
    learner = make_learner()
    results = race(
        [
            lambda b=booking_id: credits_hold(user=learner, amount=60, booking_id=b)
            for booking_id in range(100, 110)
        ]
    )
    held = [r for r in results if isinstance(r, Transfer)]
    refused = [r for r in results if isinstance(r, AppError)]
    assert len(held) == 1, results
    assert len(refused) == 9 and {(e.code, e.status) for e in refused} == {
        ("insufficient_credits", 402)
    }
    assert credits_summary(user=learner) == {"balance": 60, "held": 60, "available": 0}
    assert Transfer.objects.filter(kind="hold").count() == 1
    assert ledger_problems() == []


def test_ten_parallel_settlements_of_one_booking_pay_once():
    skip_unless_postgres()
    learner, teacher = make_learner(), make_teacher()
    credits_hold(user=learner, amount=60, booking_id=7)
    results = race(
        [
            lambda: credits_settle(booking_id=7, payer=learner, payee=teacher, paid_amount=45)
            for _ in range(10)
        ]
    )
    assert not [r for r in results if isinstance(r, Exception)], results
    assert sorted(r.already for r in results) == [False] + [True] * 9
    assert {(r.paid, r.returned, r.payment.pk) for r in results} == {
        (45, 15, results[0].payment.pk)
    }
    assert Transfer.objects.filter(kind="payment", booking_id=7).count() == 1
    assert credits_summary(user=teacher) == {"balance": 165, "held": 0, "available": 165}
    assert credits_summary(user=learner) == {"balance": 75, "held": 0, "available": 75}
    assert ledger_problems() == []


def test_settlements_racing_releases_close_the_hold_once():
    skip_unless_postgres()
    learner, teacher = make_learner(), make_teacher()
    credits_hold(user=learner, amount=60, booking_id=8)
    calls = []
    for _ in range(5):
        calls.append(
            lambda: credits_settle(booking_id=8, payer=learner, payee=teacher, paid_amount=60)
        )
        calls.append(lambda: credits_release(booking_id=8))
    results = race(calls)
    assert not [r for r in results if isinstance(r, Exception)], results
    assert Transfer.objects.filter(kind="release", booking_id=8).count() == 1
    paid = Transfer.objects.filter(kind="payment", booking_id=8).count()
    teacher_gets = 180 if paid else 120
    assert credits_summary(user=teacher)["available"] == teacher_gets
    assert credits_summary(user=learner)["balance"] == 240 - teacher_gets
    assert ledger_problems() == []


def test_payments_crossing_between_two_users_do_not_deadlock():
    skip_unless_postgres()
    a, b = make_user(role="both"), make_user(role="both")
    for n in range(5):
        credits_hold(user=a, amount=10, booking_id=200 + n)
        credits_hold(user=b, amount=7, booking_id=300 + n)
    # a pays b while b pays a: both lock both accounts, always in the same (primary-key)
    # order, so no two settlements wait for each other in a cycle.
    calls = []
    for n in range(5):
        calls.append(
            lambda n=n: credits_settle(booking_id=200 + n, payer=a, payee=b, paid_amount=10)
        )
        calls.append(
            lambda n=n: credits_settle(booking_id=300 + n, payer=b, payee=a, paid_amount=7)
        )
    results = race(calls)
    assert not [r for r in results if isinstance(r, Exception)], results
    assert credits_summary(user=a) == {"balance": 105, "held": 0, "available": 105}
    assert credits_summary(user=b) == {"balance": 135, "held": 0, "available": 135}
    assert ledger_problems() == []


def test_the_database_refuses_to_commit_a_transfer_that_does_not_net_to_zero():
    skip_unless_postgres()
    user = make_learner()
    account = Account.objects.get(user=user)
    with pytest.raises(IntegrityError), transaction.atomic():
        transfer = Transfer.objects.create(kind="grant", idempotency_key="lopsided")
        LedgerEntry.objects.create(transfer=transfer, account=account, amount=5)
    assert not Transfer.objects.filter(idempotency_key="lopsided").exists()


def test_parallel_holds_for_one_booking_hold_once_and_return_the_first(settings):
    """Once per booking also under a race: the calls queue on the account's lock and the
    later ones find the hold the first committed (not a duplicate-key error)."""
    skip_unless_postgres()
    settings.CREDITS_SIGNUP_GRANT = 200
    learner = make_learner()
    results = race([lambda: credits_hold(user=learner, amount=60, booking_id=42)] * 5)
    assert not [r for r in results if isinstance(r, Exception)], results
    assert len({r.pk for r in results}) == 1
    assert Transfer.objects.filter(kind="hold", booking_id=42).count() == 1
    assert credits_summary(user=learner) == {"balance": 200, "held": 60, "available": 140}
    assert ledger_problems() == []
