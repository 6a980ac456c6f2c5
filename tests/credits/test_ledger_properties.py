"""Random sequences of sign-ups, holds, releases, settlements and adjustments (hypothesis):
after every step no credit was created or lost, stored balances equal their entries, no
available balance is negative, and every user's figures match a plain model of the rules."""

import itertools

import pytest
from django.db import transaction
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    invariant,
    multiple,
    rule,
)

from accounts.models import User
from credits.selectors import credits_summary
from credits.services import (
    credits_adjust,
    credits_hold,
    credits_release,
    credits_settle,
)
from skilllink.errors import AppError
from tests.credits.invariants import ledger_problems

GRANT = 120
_names = itertools.count(1)


class LedgerMachine(RuleBasedStateMachine):
    """One example = one savepoint, rolled back at teardown (the test's transaction stays)."""

    users = Bundle("users")
    open_holds = Bundle("open_holds")
    closed_holds = Bundle("closed_holds")

    def __init__(self):
        super().__init__()
        self._atomic = transaction.atomic()
        self._atomic.__enter__()
        n = next(_names)
        self.staff = User.objects.create(
            username=f"staff{n}", email=f"staff{n}@example.test", is_staff=True, is_superuser=True
        )
        # The model: what each user should have, in plain Python.
        self.available: dict[int, int] = {self.staff.pk: GRANT}
        self.held: dict[int, int] = {self.staff.pk: 0}
        self.holds: dict[int, tuple[User, int]] = {}
        self.bookings = itertools.count(1)

    def teardown(self):
        transaction.set_rollback(True)
        self._atomic.__exit__(None, None, None)

    @rule(target=users)
    def sign_up(self):
        n = next(_names)
        user = User.objects.create(username=f"u{n}", email=f"u{n}@example.test")
        self.available[user.pk], self.held[user.pk] = GRANT, 0
        return user

    @rule(target=open_holds, user=users, amount=st.integers(min_value=1, max_value=250))
    def hold(self, user, amount):
        booking_id = next(self.bookings)
        if amount > self.available[user.pk]:
            with pytest.raises(AppError) as refused:
                credits_hold(user=user, amount=amount, booking_id=booking_id)
            assert refused.value.status == 402
            return multiple()
        credits_hold(user=user, amount=amount, booking_id=booking_id)
        self.available[user.pk] -= amount
        self.held[user.pk] += amount
        self.holds[booking_id] = (user, amount)
        return booking_id

    @rule(target=closed_holds, booking_id=consumes(open_holds))
    def release(self, booking_id):
        user, amount = self.holds[booking_id]
        credits_release(booking_id=booking_id, reason="declined")
        self.available[user.pk] += amount
        self.held[user.pk] -= amount
        return booking_id

    @rule(
        target=closed_holds,
        booking_id=consumes(open_holds),
        payee=users,
        paid=st.integers(min_value=0, max_value=300),
    )
    def settle(self, booking_id, payee, paid):
        payer, amount = self.holds[booking_id]
        if payee.pk == payer.pk:
            payee = self.staff
        done = credits_settle(booking_id=booking_id, payer=payer, payee=payee, paid_amount=paid)
        assert done.paid == min(paid, amount) and not done.already
        self.available[payer.pk] += amount - done.paid
        self.held[payer.pk] -= amount
        self.available[payee.pk] += done.paid
        return booking_id

    @rule(booking_id=closed_holds, payee=users, paid=st.integers(min_value=0, max_value=300))
    def settle_or_release_again_changes_nothing(self, booking_id, payee, paid):
        payer, _ = self.holds[booking_id]
        if payee.pk == payer.pk:
            payee = self.staff
        done = credits_settle(booking_id=booking_id, payer=payer, payee=payee, paid_amount=paid)
        assert done.already
        assert credits_release(booking_id=booking_id) == done.release

    @rule(booking_id=open_holds)
    def hold_again_changes_nothing(self, booking_id):
        user, amount = self.holds[booking_id]
        credits_hold(user=user, amount=amount, booking_id=booking_id)

    @rule(user=users, amount=st.integers(min_value=-200, max_value=200).filter(bool))
    def adjust(self, user, amount):
        if self.available[user.pk] + amount < 0:
            with pytest.raises(AppError) as refused:
                credits_adjust(user=user, amount=amount, reason="property", actor=self.staff)
            assert refused.value.status == 402
            return
        credits_adjust(user=user, amount=amount, reason="property", actor=self.staff)
        self.available[user.pk] += amount

    @invariant()
    def no_credit_created_or_lost(self):
        assert ledger_problems() == []

    @invariant()
    def every_user_has_what_the_rules_say(self):
        for user_id, available in self.available.items():
            held = self.held[user_id]
            summary = credits_summary(user=User(pk=user_id))
            assert summary == {"balance": available + held, "held": held, "available": available}


@pytest.mark.django_db
def test_random_ledger_operations_keep_every_invariant():
    LedgerMachine.TestCase.settings = settings(
        max_examples=30,
        stateful_step_count=25,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    LedgerMachine.TestCase().runTest()
