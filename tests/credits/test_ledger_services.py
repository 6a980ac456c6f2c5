"""The ledger's rules through credits.services, with exact amounts (grant 120 unless set)."""

import pytest
from django.db import IntegrityError, transaction
from django.db.models import F

from accounts.models import User
from credits.models import Account, Hold, LedgerEntry, Transfer
from credits.selectors import credits_for_bookings, credits_price, credits_summary
from credits.services import (
    LedgerUnbalanced,
    _transfer_record,
    credits_adjust,
    credits_grant_signup,
    credits_hold,
    credits_release,
    credits_settle,
)
from skilllink.errors import AppError, Conflict, Forbidden, ValidationFailed
from tests.credits.invariants import ledger_problems
from tests.factories import make_learner, make_staff, make_teacher, make_user

pytestmark = pytest.mark.django_db


def summary(user) -> tuple[int, int, int]:
    s = credits_summary(user=user)
    return s["balance"], s["held"], s["available"]


def ledger_size() -> tuple[int, int, int]:
    return Transfer.objects.count(), LedgerEntry.objects.count(), Hold.objects.count()


@pytest.fixture(autouse=True)
def _consistent_after_each_test():
    yield
    assert ledger_problems() == []


# --- Sign-up grant -------------------------------------------------------------------------


def test_a_new_user_gets_the_signup_grant_from_the_platform(settings):
    settings.CREDITS_SIGNUP_GRANT = 120
    user = make_learner()
    assert summary(user) == (120, 0, 120)
    grant = Transfer.objects.get(kind="grant", idempotency_key=f"signup:{user.pk}")
    legs = dict(grant.entries.values_list("account__kind", "amount"))
    assert legs == {"platform": -120, "user": 120}


def test_the_signup_grant_is_given_once_however_often_it_is_asked_for():
    user = make_learner()
    first = Transfer.objects.get(kind="grant")
    assert credits_grant_signup(user=user) == first
    assert credits_grant_signup(user=user) == first
    assert summary(user) == (120, 0, 120)
    assert Transfer.objects.filter(kind="grant").count() == 1


def test_the_signup_grant_follows_its_setting_and_zero_grants_nothing(settings):
    settings.CREDITS_SIGNUP_GRANT = 30
    assert summary(make_learner()) == (30, 0, 30)
    settings.CREDITS_SIGNUP_GRANT = 0
    user = make_learner()
    assert summary(user) == (0, 0, 0)
    assert Account.objects.filter(user=user).exists()
    assert not Transfer.objects.filter(idempotency_key=f"signup:{user.pk}").exists()


def test_every_way_of_creating_a_user_grants_credits():
    superuser = User.objects.create_superuser("root", "root@example.test", "x-Long-pass-42")
    plain = User.objects.create(username="plain", email="plain@example.test")
    assert summary(superuser) == (120, 0, 120)
    assert summary(plain) == (120, 0, 120)


def test_saving_an_existing_user_grants_nothing_more():
    user = make_learner()
    user.bio = "changed"
    user.save()
    assert summary(user) == (120, 0, 120)


def test_a_user_with_ledger_history_cannot_be_deleted():
    from django.db.models import ProtectedError

    user = make_learner()
    with pytest.raises(ProtectedError):
        user.delete()


# --- Holds -------------------------------------------------------------------------------


def test_a_hold_moves_available_credits_into_escrow():
    learner = make_learner()
    transfer = credits_hold(user=learner, amount=60, booking_id=7)
    assert transfer.kind == "hold" and transfer.booking_id == 7
    assert summary(learner) == (120, 60, 60)
    legs = dict(transfer.entries.values_list("account__kind", "amount"))
    assert legs == {"user": -60, "escrow": 60}
    assert credits_for_bookings(booking_ids=[7]) == {7: {"held": 60, "paid": 0}}


def test_a_hold_of_exactly_the_available_credits_is_allowed():
    learner = make_learner()
    credits_hold(user=learner, amount=120, booking_id=1)
    assert summary(learner) == (120, 120, 0)


def test_a_hold_larger_than_available_is_refused_with_402_and_changes_nothing():
    learner = make_learner()
    credits_hold(user=learner, amount=100, booking_id=1)
    before = ledger_size()
    with pytest.raises(AppError) as refused:
        credits_hold(user=learner, amount=21, booking_id=2)
    assert refused.value.code == "insufficient_credits"
    assert refused.value.status == 402
    assert "21" in refused.value.detail and "20" in refused.value.detail
    assert ledger_size() == before
    assert summary(learner) == (120, 100, 20)
    assert not Hold.objects.filter(booking_id=2).exists()


def test_the_refused_hold_rolls_back_only_itself_inside_a_callers_transaction():
    learner = make_learner()
    with transaction.atomic():
        credits_hold(user=learner, amount=100, booking_id=1)
        with pytest.raises(AppError):
            credits_hold(user=learner, amount=50, booking_id=2)
    assert summary(learner) == (120, 100, 20)


def test_holding_the_same_booking_again_returns_the_first_hold():
    learner = make_learner()
    first = credits_hold(user=learner, amount=60, booking_id=3)
    before = ledger_size()
    assert credits_hold(user=learner, amount=60, booking_id=3) == first
    assert ledger_size() == before
    assert summary(learner) == (120, 60, 60)


def test_holding_a_held_booking_for_another_user_or_amount_is_a_conflict():
    learner, other = make_learner(), make_learner()
    credits_hold(user=learner, amount=60, booking_id=3)
    with pytest.raises(Conflict):
        credits_hold(user=other, amount=60, booking_id=3)
    with pytest.raises(Conflict):
        credits_hold(user=learner, amount=30, booking_id=3)
    assert summary(other) == (120, 0, 120)


def test_amounts_and_booking_ids_out_of_range_are_refused_before_the_database():
    learner, teacher, staff = make_learner(), make_teacher(), make_staff()
    before = ledger_size()
    for call in (
        lambda: credits_hold(user=learner, amount=10**12, booking_id=1),
        lambda: credits_hold(user=learner, amount=1, booking_id=0),
        lambda: credits_hold(user=learner, amount=1, booking_id=2**63),
        lambda: credits_hold(user=learner, amount=1, booking_id="1"),
        lambda: credits_release(booking_id=-1),
        lambda: credits_settle(booking_id=2**64, payer=learner, payee=teacher, paid_amount=1),
        lambda: credits_adjust(user=learner, amount=10**12, reason="Big", actor=staff),
    ):
        with pytest.raises(ValidationFailed):
            call()
    assert ledger_size() == before


def test_a_zero_hold_holds_nothing_and_a_negative_one_is_refused():
    learner = make_learner()
    assert credits_hold(user=learner, amount=0, booking_id=4) is None
    with pytest.raises(ValidationFailed):
        credits_hold(user=learner, amount=-5, booking_id=5)
    with pytest.raises(ValidationFailed):
        credits_hold(user=learner, amount=True, booking_id=5)
    assert summary(learner) == (120, 0, 120)
    assert not Hold.objects.exists()


def test_a_user_without_an_account_gets_one_on_first_use_and_cannot_go_below_zero():
    # Scripts may bulk-create users (no post_save): their account opens empty.
    (user,) = User.objects.bulk_create([User(username="bulk", email="bulk@example.test")])
    with pytest.raises(AppError) as refused:
        credits_hold(user=user, amount=1, booking_id=9)
    assert refused.value.status == 402
    assert summary(user) == (0, 0, 0)


# --- Release -----------------------------------------------------------------------------


def test_release_returns_the_whole_hold_to_the_learner():
    learner = make_learner()
    credits_hold(user=learner, amount=45, booking_id=11)
    release = credits_release(booking_id=11, reason="Declined by the teacher")
    assert release.kind == "release" and release.reason == "Declined by the teacher"
    assert dict(release.entries.values_list("account__kind", "amount")) == {
        "escrow": -45,
        "user": 45,
    }
    assert summary(learner) == (120, 0, 120)
    assert credits_for_bookings(booking_ids=[11]) == {11: {"held": 0, "paid": 0}}


def test_release_twice_returns_once():
    learner = make_learner()
    credits_hold(user=learner, amount=45, booking_id=11)
    first = credits_release(booking_id=11)
    before = ledger_size()
    assert credits_release(booking_id=11) == first
    assert ledger_size() == before
    assert summary(learner) == (120, 0, 120)


def test_release_of_a_booking_without_a_hold_does_nothing():
    before = ledger_size()
    assert credits_release(booking_id=404) is None
    assert ledger_size() == before


# --- Settlement ----------------------------------------------------------------------------


def test_settle_partial_pays_the_teacher_and_returns_the_rest():
    learner, teacher = make_learner(), make_teacher()
    credits_hold(user=learner, amount=60, booking_id=21)
    done = credits_settle(
        booking_id=21, payer=learner, payee=teacher, paid_amount=45, reason="45 minutes together"
    )
    assert (done.paid, done.returned, done.already) == (45, 15, False)
    assert summary(learner) == (75, 0, 75)
    assert summary(teacher) == (165, 0, 165)
    payment = dict(done.payment.entries.values_list("account__user", "amount"))
    assert payment == {learner.pk: -45, teacher.pk: 45}
    assert done.payment.reason == "45 minutes together"
    assert credits_for_bookings(booking_ids=[21]) == {21: {"held": 0, "paid": 45}}


def test_settle_full_pays_the_whole_hold():
    learner, teacher = make_learner(), make_teacher()
    credits_hold(user=learner, amount=60, booking_id=22)
    done = credits_settle(booking_id=22, payer=learner, payee=teacher, paid_amount=60)
    assert (done.paid, done.returned) == (60, 0)
    assert summary(learner) == (60, 0, 60)
    assert summary(teacher) == (180, 0, 180)


def test_settle_zero_returns_everything_and_pays_nobody():
    learner, teacher = make_learner(), make_teacher()
    credits_hold(user=learner, amount=60, booking_id=23)
    done = credits_settle(booking_id=23, payer=learner, payee=teacher, paid_amount=0)
    assert (done.paid, done.returned, done.payment) == (0, 60, None)
    assert summary(learner) == (120, 0, 120)
    assert summary(teacher) == (120, 0, 120)
    assert not Transfer.objects.filter(kind="payment").exists()


def test_settle_caps_the_payment_at_the_hold():
    learner, teacher = make_learner(), make_teacher()
    credits_hold(user=learner, amount=60, booking_id=24)
    done = credits_settle(booking_id=24, payer=learner, payee=teacher, paid_amount=75)
    assert done.paid == 60
    assert summary(teacher) == (180, 0, 180)


def test_settle_twice_pays_once_and_reports_the_first_settlement():
    learner, teacher = make_learner(), make_teacher()
    credits_hold(user=learner, amount=60, booking_id=25)
    first = credits_settle(booking_id=25, payer=learner, payee=teacher, paid_amount=30)
    before = ledger_size()
    again = credits_settle(booking_id=25, payer=learner, payee=teacher, paid_amount=60)
    assert again.already and (again.paid, again.returned) == (30, 30)
    assert (again.release, again.payment) == (first.release, first.payment)
    assert ledger_size() == before
    assert summary(teacher) == (150, 0, 150)


def test_settle_after_a_release_pays_nothing():
    learner, teacher = make_learner(), make_teacher()
    credits_hold(user=learner, amount=60, booking_id=26)
    release = credits_release(booking_id=26)
    done = credits_settle(booking_id=26, payer=learner, payee=teacher, paid_amount=60)
    assert done.already and done.release == release and done.payment is None and done.paid == 0
    assert summary(teacher) == (120, 0, 120)
    assert summary(learner) == (120, 0, 120)


def test_release_after_a_settlement_returns_nothing_more():
    learner, teacher = make_learner(), make_teacher()
    credits_hold(user=learner, amount=60, booking_id=27)
    done = credits_settle(booking_id=27, payer=learner, payee=teacher, paid_amount=40)
    assert credits_release(booking_id=27) == done.release
    assert summary(learner) == (80, 0, 80)


def test_settle_refuses_the_wrong_payer_a_self_payment_and_bad_amounts():
    learner, teacher, stranger = make_learner(), make_teacher(), make_learner()
    credits_hold(user=learner, amount=60, booking_id=28)
    with pytest.raises(Conflict):
        credits_settle(booking_id=28, payer=stranger, payee=teacher, paid_amount=10)
    with pytest.raises(ValidationFailed):
        credits_settle(booking_id=28, payer=learner, payee=learner, paid_amount=10)
    with pytest.raises(ValidationFailed):
        credits_settle(booking_id=28, payer=learner, payee=teacher, paid_amount=-1)
    with pytest.raises(ValidationFailed):
        credits_settle(booking_id=28, payer=learner, payee=teacher, paid_amount=1.5)
    assert summary(learner) == (120, 60, 60)
    assert summary(teacher) == (120, 0, 120)


def test_settle_of_a_booking_without_a_hold_does_nothing():
    learner, teacher = make_learner(), make_teacher()
    assert credits_settle(booking_id=99, payer=learner, payee=teacher, paid_amount=10) is None
    assert summary(teacher) == (120, 0, 120)


def test_a_learner_who_teaches_too_pays_and_earns_on_one_account():
    both = make_user(role="both")
    other = make_user(role="both")
    credits_hold(user=both, amount=30, booking_id=31)
    credits_hold(user=other, amount=50, booking_id=32)
    credits_settle(booking_id=31, payer=both, payee=other, paid_amount=30)
    credits_settle(booking_id=32, payer=other, payee=both, paid_amount=20)
    assert summary(both) == (120 - 30 + 20, 0, 110)
    assert summary(other) == (120 + 30 - 20, 0, 130)


def test_price_is_credits_per_minute(settings):
    assert credits_price(minutes=45) == 45
    settings.CREDITS_PER_MINUTE = 3
    assert credits_price(minutes=45) == 135
    assert credits_price(minutes=-5) == 0


# --- Staff adjustments ---------------------------------------------------------------------


def test_staff_adjust_a_balance_with_a_reason_against_the_platform():
    user, staff = make_learner(), make_staff()
    transfer = credits_adjust(user=user, amount=25, reason="  Goodwill  ", actor=staff)
    assert transfer.kind == "adjustment" and transfer.reason == "Goodwill"
    assert transfer.actor == staff
    assert dict(transfer.entries.values_list("account__kind", "amount")) == {
        "platform": -25,
        "user": 25,
    }
    credits_adjust(user=user, amount=-45, reason="Duplicate grant", actor=staff)
    assert summary(user) == (100, 0, 100)


def test_an_adjustment_needs_a_reason_and_a_non_zero_whole_amount():
    user, staff = make_learner(), make_staff()
    before = ledger_size()
    for amount, reason in [(10, ""), (10, "   "), (0, "ok"), (2.5, "ok"), (10, "x" * 501)]:
        with pytest.raises(ValidationFailed):
            credits_adjust(user=user, amount=amount, reason=reason, actor=staff)
    assert ledger_size() == before


def test_an_adjustment_cannot_take_more_than_is_available():
    user, staff = make_learner(), make_staff()
    credits_hold(user=user, amount=100, booking_id=41)
    with pytest.raises(AppError) as refused:
        credits_adjust(user=user, amount=-21, reason="Too much", actor=staff)
    assert refused.value.status == 402
    credits_adjust(user=user, amount=-20, reason="Exactly all", actor=staff)
    assert summary(user) == (100, 100, 0)


def test_only_staff_with_the_permission_adjust():
    user = make_learner()
    for actor in (make_learner(), make_staff(superuser=False)):
        with pytest.raises(Forbidden):
            credits_adjust(user=user, amount=5, reason="Nope", actor=actor)
    assert summary(user) == (120, 0, 120)


def test_an_adjustment_with_a_used_key_is_applied_once():
    user, staff = make_learner(), make_staff()
    first = credits_adjust(user=user, amount=5, reason="Once", actor=staff, idempotency_key="k1")
    again = credits_adjust(user=user, amount=5, reason="Once", actor=staff, idempotency_key="k1")
    assert again == first
    assert summary(user) == (125, 0, 125)
    with pytest.raises(Conflict):
        credits_adjust(user=user, amount=6, reason="Other", actor=staff, idempotency_key="k1")


# --- Guards: zero-sum transfers, no negative balance, append-only entries -------------------


def test_a_transfer_that_does_not_net_to_zero_is_refused_and_writes_nothing():
    user = make_learner()
    account = Account.objects.get(user=user)
    platform = Account.objects.get(kind="platform")
    before = ledger_size()
    with pytest.raises(LedgerUnbalanced):
        _transfer_record(
            kind="adjustment",
            idempotency_key="bad",
            legs=[(platform, -10), (account, 11)],
            reason="A bug",
        )
    assert ledger_size() == before


def test_the_database_refuses_a_negative_available_balance_even_past_the_service():
    user = make_learner()
    with pytest.raises(IntegrityError), transaction.atomic():
        Account.objects.filter(user=user).update(available=F("available") - 121)
    assert summary(user) == (120, 0, 120)


def test_the_database_refuses_a_second_escrow_or_platform_account():
    with pytest.raises(IntegrityError), transaction.atomic():
        Account.objects.create(kind="escrow")


def test_ledger_rows_refuse_to_be_changed_or_deleted_in_code():
    make_learner()
    entry = LedgerEntry.objects.first()
    transfer = entry.transfer
    entry.amount = 1_000
    for attempt in (
        entry.save,
        entry.delete,
        transfer.save,
        transfer.delete,
        lambda: LedgerEntry.objects.update(amount=1),
        lambda: LedgerEntry.objects.all().delete(),
        lambda: Transfer.objects.filter(pk=transfer.pk).update(reason="rewritten"),
    ):
        with pytest.raises(TypeError):
            attempt()


def test_the_database_refuses_to_update_ledger_rows():
    from django.db import connection

    make_learner()
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE credits_ledgerentry SET amount = amount * 2")
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE credits_transfer SET reason = 'rewritten'")


def test_the_database_refuses_to_delete_ledger_rows_on_postgres():
    from django.db import connection

    from tests.conftest import skip_unless_postgres

    skip_unless_postgres()
    make_learner()
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM credits_ledgerentry")


def test_an_adjustment_without_a_reason_is_refused_by_the_database():
    user = make_learner()
    account = Account.objects.get(user=user)
    platform = Account.objects.get(kind="platform")
    with pytest.raises(IntegrityError), transaction.atomic():
        _transfer_record(
            kind="adjustment", idempotency_key="no-reason", legs=[(platform, -1), (account, 1)]
        )


def test_transfers_record_the_moment_the_caller_gives():
    from datetime import UTC, datetime

    learner, teacher = make_learner(), make_teacher()
    held_at = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
    settled_at = datetime(2026, 3, 1, 10, 15, tzinfo=UTC)
    assert credits_hold(user=learner, amount=60, booking_id=51, now=held_at).created_at == held_at
    done = credits_settle(
        booking_id=51, payer=learner, payee=teacher, paid_amount=60, now=settled_at
    )
    assert done.release.created_at == done.payment.created_at == settled_at
    hold = Hold.objects.get(booking_id=51)
    assert (hold.created_at, hold.closed_at) == (held_at, settled_at)
