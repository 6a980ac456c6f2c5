"""Writes for credits: ratings and the ranking score they move, and the credit ledger
(only these functions write it)."""

import functools
import uuid
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import F, OuterRef, Subquery
from django.utils import timezone

from accounts.models import User
from accounts.services import notification_send, teacher_skill_scores_set
from credits.models import Account, Hold, LedgerEntry, Rating, TeacherRating, Transfer
from credits.selectors import NEW_TEACHER_SCORE, teacher_score
from skilllink.errors import AppError, Conflict, Forbidden, ValidationFailed
from skilllink.realtime import send_on_commit, user_group
from skilllink.text import text_clean


def rating_clean(*, stars: object, feedback: object) -> tuple[int, str]:
    """(stars, feedback) as they will be stored, or ``ValidationFailed``."""
    if isinstance(stars, bool) or not isinstance(stars, int) or not 1 <= stars <= 5:
        raise ValidationFailed("Give 1 to 5 stars.", fields={"stars": ["Give 1 to 5 stars."]})
    return stars, text_clean(feedback, field="feedback", max_length=2000, required=False)


def rating_record(
    *,
    booking_id: int,
    teacher: User,
    learner: User,
    stars: int,
    feedback: str = "",
    url: str = "",
) -> Rating:
    """Record ``learner``'s rating of their session ``booking_id`` with ``teacher`` and move
    the teacher's score. Preconditions: ``stars`` and ``feedback`` passed ``rating_clean``,
    and the caller (``scheduling.transitions.booking_rate``) has checked, in its
    transaction, that this learner may rate the session."""
    stars, feedback = rating_clean(stars=stars, feedback=feedback)
    try:
        with transaction.atomic():
            rating = Rating.objects.create(
                booking_id=booking_id,
                teacher=teacher,
                learner=learner,
                stars=stars,
                feedback=feedback,
            )
    except IntegrityError:
        raise Conflict("You have already rated this session.", code="already_rated") from None
    summary = _teacher_summary_locked(teacher)
    summary.count += 1
    summary.total += stars
    _teacher_score_store(summary)
    notification_send(
        user=teacher,
        kind="rating.received",
        title=f"{learner.username} rated your session {stars}★",
        body=feedback[:200],
        url=url,
    )
    return rating


def _teacher_summary_locked(teacher: User) -> TeacherRating:
    summary, _ = TeacherRating.objects.select_for_update().get_or_create(
        teacher=teacher, defaults={"score": NEW_TEACHER_SCORE}
    )
    return summary


def _teacher_score_store(summary: TeacherRating) -> None:
    """Save the teacher's totals with the score they give, and copy it to their skills."""
    summary.score = teacher_score(
        count=summary.count,
        total=summary.total,
        taught=summary.sessions_taught,
        no_shows=summary.no_shows,
        late_cancels=summary.late_cancels,
    )
    summary.save()
    teacher_skill_scores_set(teacher_id=summary.teacher_id, score=summary.score)


RELIABILITY_EVENTS = {
    "taught": "sessions_taught",
    "no_show": "no_shows",
    "late_cancel": "late_cancels",
}


def teacher_reliability_record(*, teacher: User, event: str) -> TeacherRating:
    """Count a session the teacher ``taught``, missed (``no_show``) or cancelled within 24
    hours of its start (``late_cancel``), and move their score. Precondition: called by the
    booking move that establishes it, once, in its transaction."""
    summary = _teacher_summary_locked(teacher)
    field = RELIABILITY_EVENTS[event]
    setattr(summary, field, getattr(summary, field) + 1)
    _teacher_score_store(summary)
    return summary


def teacher_skill_scores_store(*, teacher_id: int | None = None) -> int:
    """Copy the stored scores into the ``TeacherSkill`` rows of one teacher (or of every
    teacher: after bulk loads that bypass the services). Returns the rows updated."""
    if teacher_id is not None:
        score = TeacherRating.objects.filter(teacher_id=teacher_id).values_list("score", flat=True)
        return teacher_skill_scores_set(
            teacher_id=teacher_id, score=score.first() or NEW_TEACHER_SCORE
        )
    stored = TeacherRating.objects.filter(teacher=OuterRef("teacher")).values("score")[:1]
    return teacher_skill_scores_set(score=Subquery(stored), default=NEW_TEACHER_SCORE)


def teacher_skill_score_on_save(*, sender, instance, raw: bool = False, **kwargs):
    """``post_save`` of ``accounts.TeacherSkill``: a new row (or one given to another
    teacher, in admin) takes its teacher's score."""
    if not raw:
        teacher_skill_scores_store(teacher_id=instance.teacher_id)


# --- The credit ledger -------------------------------------------------------------------
#
# Every function below is atomic on its own and joins the caller's transaction when there
# is one (the booking transitions call them inside theirs). Rows are locked in one order
# everywhere, so two transactions never wait on each other in a cycle:
#     the booking's Hold row (release, settle)  ->  user accounts by ascending primary key.
# The escrow and platform accounts are never locked nor updated (their balances are not
# stored), so holds and grants for different users never wait on each other.
# ``now`` (default: the current time) is the moment a transfer records; the booking
# transitions pass theirs, so the ledger and the booking's timeline agree.


def insufficient_credits(*, needed: int, available: int) -> AppError:
    return AppError(
        f"This needs {needed} credits and {available} are available.",
        code="insufficient_credits",
        status=402,
    )


class LedgerUnbalanced(Exception):
    """A transfer whose entries do not net to zero: a bug in the caller, never user input."""


# The escrow and platform accounts by kind: they never change once opened, and every hold
# and grant needs one, so this process remembers them once committed (forgotten on
# ``post_migrate``, which a database flush also sends: tests that empty the tables).
_system_accounts: dict[tuple[str, str], Account] = {}


def system_accounts_forget(**kwargs) -> None:
    _system_accounts.clear()


def _system_account(kind: str) -> Account:
    key = (connection.alias, kind)
    account = _system_accounts.get(key)
    if account is None:
        # get_or_create: the migration opens both, but a test flush (TransactionTestCase)
        # empties the table; the unique constraint settles a race between two creators.
        account, _ = Account.objects.get_or_create(kind=kind)
        # Remembered once committed: a row made in a transaction that rolls back is not.
        transaction.on_commit(lambda: _system_accounts.setdefault(key, account))
    return account


def _accounts_locked(users: list[User]) -> dict[int, Account]:
    """The users' accounts by user id, locked in ascending primary-key order (an account
    missing for a user, e.g. one bulk-created by a script, is opened with nothing in it)."""
    user_ids = {user.pk for user in users}

    def lock() -> dict[int, Account]:
        rows = Account.objects.select_for_update().filter(user_id__in=user_ids).order_by("pk")
        return {account.user_id: account for account in rows}

    accounts = lock()
    if len(accounts) < len(user_ids):
        for user_id in sorted(user_ids - accounts.keys()):
            Account.objects.get_or_create(user_id=user_id, defaults={"kind": Account.Kind.USER})
        accounts = lock()
    return accounts


# Far above any real amount, far below the 64-bit columns' limit.
MAX_AMOUNT = 10**9


def _whole(amount: object) -> bool:
    """A whole number of credits (not a bool) within ``MAX_AMOUNT`` either way."""
    return isinstance(amount, int) and not isinstance(amount, bool) and abs(amount) <= MAX_AMOUNT


def _check_booking_id(booking_id: object) -> None:
    if (
        isinstance(booking_id, bool)
        or not isinstance(booking_id, int)
        or not 0 < booking_id < 2**63
    ):
        raise ValidationFailed("A booking id is a positive whole number.")


def _transfer_record(
    *,
    kind: str,
    idempotency_key: str,
    legs: list[tuple[Account, int]],
    booking_id: int | None = None,
    reason: str = "",
    actor: User | None = None,
    held_changes: dict[int, int] | None = None,
    now: datetime | None = None,
) -> Transfer:
    """Write one transfer with its entries and move the stored balances of user accounts.

    Preconditions: inside a transaction, every user account in ``legs`` (and in
    ``held_changes``, account pk -> change of ``held``) locked by the caller, and the
    balances checked. Refuses (``LedgerUnbalanced``) legs that do not net to zero.
    """
    legs = [(account, amount) for account, amount in legs if amount]
    if sum(amount for _, amount in legs) != 0 or len({a.pk for a, _ in legs}) != len(legs):
        raise LedgerUnbalanced(f"{kind} transfer legs must net to zero: {legs!r}")
    transfer = Transfer.objects.create(
        kind=kind,
        idempotency_key=idempotency_key,
        booking_id=booking_id,
        reason=reason[:500],
        actor=actor,
        created_at=now or timezone.now(),
    )
    LedgerEntry.objects.bulk_create(
        [LedgerEntry(transfer=transfer, account=account, amount=amount) for account, amount in legs]
    )
    changes: dict[int, dict[str, int]] = {}
    for account, amount in legs:
        if account.kind == Account.Kind.USER:
            changes.setdefault(account.pk, {"available": 0, "held": 0})["available"] += amount
    for account_pk, change in (held_changes or {}).items():
        changes.setdefault(account_pk, {"available": 0, "held": 0})["held"] += change
    by_pk = {account.pk: account for account, _ in legs}
    for account_pk, change in changes.items():
        Account.objects.filter(pk=account_pk).update(
            available=F("available") + change["available"], held=F("held") + change["held"]
        )
        account = by_pk.get(account_pk) or Account.objects.get(pk=account_pk)
        if account.pk in by_pk:  # the caller's locked copy: keep it in step
            account.available += change["available"]
            account.held += change["held"]
        if account.user_id is not None:
            # The header's balance updates live (after commit; never if it rolls back).
            send_on_commit(
                user_group(account.user_id),
                {
                    "type": "credits.changed",
                    "credits": {
                        "balance": account.available + account.held,
                        "held": account.held,
                        "available": account.available,
                    },
                },
            )
    return transfer


def _existing_transfer(idempotency_key: str) -> Transfer | None:
    return Transfer.objects.filter(idempotency_key=idempotency_key).first()


@transaction.atomic
def credits_grant_signup(*, user: User, now: datetime | None = None) -> Transfer | None:
    """Open ``user``'s account and grant ``CREDITS_SIGNUP_GRANT`` from the platform, once per
    user (later calls return the first grant). None when the grant is set to 0."""
    account = _accounts_locked([user])[user.pk]
    key = f"signup:{user.pk}"
    existing = _existing_transfer(key)
    amount = settings.CREDITS_SIGNUP_GRANT
    if existing is not None or amount <= 0:
        return existing
    platform = _system_account(Account.Kind.PLATFORM)
    return _transfer_record(
        kind=Transfer.Kind.GRANT,
        idempotency_key=key,
        legs=[(platform, -amount), (account, amount)],
        reason=f"Every new account starts with {amount} credits.",
        now=now,
    )


def _in_callers_transaction(function):
    """Run ``function`` in the caller's transaction when there is one, else in a new one.

    No savepoint of its own: a booking's hold is two queries cheaper (``bench/results-ledger.md``).
    Safe because the function refuses before it writes anything, and every caller that goes on
    after a refusal (matching, a published slot given to a waiting request) holds inside its
    own savepoint, which also undoes a failure after the first write.
    """

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        if connection.in_atomic_block:
            return function(*args, **kwargs)
        with transaction.atomic():
            return function(*args, **kwargs)

    return wrapper


@_in_callers_transaction
def credits_hold(
    *,
    user: User,
    amount: int,
    booking_id: int,
    reason: str = "",
    actor: User | None = None,
    now: datetime | None = None,
) -> Transfer | None:
    """Move ``amount`` of ``user``'s available credits into escrow for ``booking_id``.

    Raises ``AppError`` 402 ``insufficient_credits`` and changes nothing when fewer are
    available. Once per booking: calling again for the same booking, user and amount
    returns the first hold, also when the calls race (they queue on the account's lock);
    a different user or amount is a ``Conflict``. An amount of 0 holds nothing (None).
    """
    if not _whole(amount) or amount < 0:
        raise ValidationFailed("A hold is a whole, non-negative number of credits.")
    _check_booking_id(booking_id)
    account = _accounts_locked([user])[user.pk]
    # Read after the lock, in a statement of its own: a call that waited on the lock sees
    # the hold the one before it committed (within the locking statement, PostgreSQL's
    # snapshot predates the wait, so a check folded into it would miss that hold).
    if Hold.objects.filter(booking_id=booking_id).exists():
        existing = Hold.objects.select_related("opened_by").get(booking_id=booking_id)
        if existing.account_id != account.pk or existing.amount != amount:
            raise Conflict(
                f"Booking {booking_id} already holds {existing.amount} credits of another "
                "user or amount.",
                code="hold_mismatch",
            )
        return existing.opened_by
    if amount == 0:
        return None
    if account.available < amount:
        raise insufficient_credits(needed=amount, available=account.available)
    escrow = _system_account(Account.Kind.ESCROW)
    transfer = _transfer_record(
        kind=Transfer.Kind.HOLD,
        idempotency_key=f"booking:{booking_id}:hold",
        legs=[(account, -amount), (escrow, amount)],
        booking_id=booking_id,
        reason=reason,
        actor=actor,
        held_changes={account.pk: amount},
        now=now,
    )
    Hold.objects.create(
        booking_id=booking_id,
        account=account,
        amount=amount,
        opened_by=transfer,
        created_at=transfer.created_at,
    )
    return transfer


def _hold_locked(booking_id: int) -> Hold | None:
    return (
        Hold.objects.select_for_update(of=("self",))
        .select_related("account__user", "closed_by")
        .filter(booking_id=booking_id)
        .first()
    )


def _hold_return(
    hold: Hold, *, account: Account, reason: str, actor: User | None, now: datetime | None
) -> Transfer:
    """Escrow -> the learner, the whole hold (the caller holds the locks)."""
    escrow = _system_account(Account.Kind.ESCROW)
    transfer = _transfer_record(
        kind=Transfer.Kind.RELEASE,
        idempotency_key=f"booking:{hold.booking_id}:release",
        legs=[(escrow, -hold.amount), (account, hold.amount)],
        booking_id=hold.booking_id,
        reason=reason,
        actor=actor,
        held_changes={account.pk: -hold.amount},
        now=now,
    )
    hold.closed_by = transfer
    hold.closed_at = transfer.created_at
    hold.save(update_fields=["closed_by", "closed_at"])
    return transfer


@transaction.atomic
def credits_release(
    *,
    booking_id: int,
    reason: str = "",
    actor: User | None = None,
    now: datetime | None = None,
) -> Transfer | None:
    """Return the whole hold of ``booking_id`` to its learner (decline, cancel, expiry,
    teacher no-show, nobody came).

    Idempotent: a hold is closed once; later calls (and a settlement after it) return the
    transfer that closed it. None when the booking holds nothing.
    """
    _check_booking_id(booking_id)
    hold = _hold_locked(booking_id)
    if hold is None:
        return None
    if not hold.is_open:
        return hold.closed_by
    account = _accounts_locked([hold.account.user])[hold.account.user_id]
    return _hold_return(hold, account=account, reason=reason, actor=actor, now=now)


@transaction.atomic
def credits_hold_change(
    *,
    booking_id: int,
    amount: int,
    change_key: str,
    reason: str = "",
    actor: User | None = None,
    now: datetime | None = None,
) -> Transfer | None:
    """Make the open hold of ``booking_id`` ``amount`` credits (a session moved to a time of
    another length): the difference moves between the learner and escrow as one transfer
    (``hold`` when more is held, ``release`` when less), keyed ``change_key`` (unique per
    change, so a retried change moves nothing twice).

    Raises 402 ``insufficient_credits`` (nothing changes) when the learner cannot cover an
    increase, ``Conflict`` ``hold_closed`` when the hold is already closed. None when the
    amount is unchanged or the booking holds nothing.
    """
    if not _whole(amount) or amount <= 0:
        raise ValidationFailed("A hold is a whole, positive number of credits.")
    _check_booking_id(booking_id)
    hold = _hold_locked(booking_id)
    if hold is None:
        return None
    if not hold.is_open:
        raise Conflict(f"Booking {booking_id}'s hold is already closed.", code="hold_closed")
    key = f"booking:{booking_id}:hold-change:{change_key}"
    existing = _existing_transfer(key)
    if existing is not None or amount == hold.amount:
        return existing
    account = _accounts_locked([hold.account.user])[hold.account.user_id]
    difference = amount - hold.amount
    if difference > account.available:
        raise insufficient_credits(needed=difference, available=account.available)
    escrow = _system_account(Account.Kind.ESCROW)
    transfer = _transfer_record(
        kind=Transfer.Kind.HOLD if difference > 0 else Transfer.Kind.RELEASE,
        idempotency_key=key,
        legs=[(account, -difference), (escrow, difference)],
        booking_id=booking_id,
        reason=reason,
        actor=actor,
        held_changes={account.pk: difference},
        now=now,
    )
    hold.amount = amount
    hold.save(update_fields=["amount"])
    return transfer


@dataclass(frozen=True)
class Settlement:
    """What ``credits_settle`` did: the transfer that closed the hold, the payment (None when
    nothing was paid) and the amounts. ``already`` is True when an earlier call did it."""

    release: Transfer
    payment: Transfer | None
    paid: int
    returned: int
    already: bool


@transaction.atomic
def credits_settle(
    *,
    booking_id: int,
    payer: User,
    payee: User,
    paid_amount: int,
    reason: str = "",
    actor: User | None = None,
    now: datetime | None = None,
) -> Settlement | None:
    """Close the hold of ``booking_id``: ``payee`` is paid ``paid_amount`` credits (capped
    at the hold) and the rest returns to ``payer``.

    Written as two transfers in one transaction: the hold returns to the payer
    (``release``), then the payer pays the payee (``payment``), so both people's histories
    show the payment. Idempotent: the first settlement (or release) wins and later calls
    return it with ``already=True``. None when the booking holds nothing.
    """
    if not _whole(paid_amount) or paid_amount < 0:
        raise ValidationFailed("A payment is a whole, non-negative number of credits.")
    if payer.pk == payee.pk:
        raise ValidationFailed("A learner cannot pay themselves.")
    _check_booking_id(booking_id)
    hold = _hold_locked(booking_id)
    if hold is None:
        return None
    if hold.account.user_id != payer.pk:
        raise Conflict(f"Booking {booking_id}'s hold is not {payer}'s.", code="hold_mismatch")
    if not hold.is_open:
        payment = _existing_transfer(f"booking:{booking_id}:payment")
        paid = 0
        if payment is not None:
            paid = payment.entries.filter(amount__gt=0).values_list("amount", flat=True).get()
        return Settlement(
            release=hold.closed_by,
            payment=payment,
            paid=paid,
            returned=hold.amount - paid,
            already=True,
        )
    paid = min(paid_amount, hold.amount)
    accounts = _accounts_locked([payer, payee])
    release = _hold_return(hold, account=accounts[payer.pk], reason=reason, actor=actor, now=now)
    payment = None
    if paid:
        payment = _transfer_record(
            kind=Transfer.Kind.PAYMENT,
            idempotency_key=f"booking:{booking_id}:payment",
            legs=[(accounts[payer.pk], -paid), (accounts[payee.pk], paid)],
            booking_id=booking_id,
            reason=reason,
            actor=actor,
            now=release.created_at,
        )
    return Settlement(
        release=release, payment=payment, paid=paid, returned=hold.amount - paid, already=False
    )


@transaction.atomic
def credits_adjust(
    *,
    user: User,
    amount: int,
    reason: str,
    actor: User,
    idempotency_key: str | None = None,
    now: datetime | None = None,
) -> Transfer:
    """Staff add (amount > 0) or take (amount < 0) credits, with a reason, against the
    platform account. Taking more than is available is refused (402) and changes nothing.
    ``idempotency_key`` (e.g. one per rendered admin form) makes a resubmission a no-op.
    """
    if not (actor.is_active and actor.is_staff and actor.has_perm("credits.adjust_credits")):
        raise Forbidden("Only staff with the adjust-credits permission adjust balances.")
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed("Give a reason.", fields={"reason": ["Give a reason."]})
    if len(reason) > 500:
        raise ValidationFailed(
            "Keep the reason under 500 characters.", fields={"reason": ["Too long."]}
        )
    if not _whole(amount) or amount == 0:
        raise ValidationFailed(
            "Give a whole, non-zero number of credits.",
            fields={"amount": ["Give a whole, non-zero number of credits."]},
        )
    if idempotency_key is not None and not 0 < len(idempotency_key) <= 80:
        raise ValidationFailed("An idempotency key has 1 to 80 characters.")
    account = _accounts_locked([user])[user.pk]
    key = f"adjust:{idempotency_key or uuid.uuid4().hex}"
    existing = _existing_transfer(key)
    if existing is not None:
        leg = existing.entries.filter(account=account).values_list("amount", flat=True).first()
        if existing.kind != Transfer.Kind.ADJUSTMENT or leg != amount:
            raise Conflict("That idempotency key was used for another adjustment.")
        return existing
    if account.available + amount < 0:
        raise insufficient_credits(needed=-amount, available=account.available)
    platform = _system_account(Account.Kind.PLATFORM)
    return _transfer_record(
        kind=Transfer.Kind.ADJUSTMENT,
        idempotency_key=key,
        legs=[(platform, -amount), (account, amount)],
        reason=reason,
        actor=actor,
        now=now,
    )
