"""Reads for credits: ratings and the ranking score; the ledger (balances, history,
prices).

The ranking score has one definition, ``teacher_score``; it is stored with each teacher's
totals (``TeacherRating.score``) and copied to their ``TeacherSkill`` rows, so queries read
it and never restate it.
"""

from base64 import urlsafe_b64decode, urlsafe_b64encode
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db.models import F, Sum, Value
from django.db.models.functions import Coalesce

from accounts.models import User
from credits.models import Account, Hold, LedgerEntry, Rating, TeacherRating, Transfer
from skilllink.errors import ValidationFailed

# Bayesian average: every teacher starts with PRIOR_WEIGHT imaginary ratings of
# PRIOR_MEAN stars, so one 5-star rating (3.75) cannot beat fifty 4.8s (4.68), and
# a teacher with good ratings outranks one with none (3.5). A fixed, slightly
# sceptical prior keeps scores stable as the site grows (no global recomputation).
PRIOR_WEIGHT = 5
PRIOR_MEAN = 3.5


# Reliability: every teacher starts with RELIABILITY_PRIOR imaginary sessions taught; a
# session they did not come to counts as one missed, a cancellation within 24 hours of the
# start as half of one. reliability = (taught + prior) / (taught + missed + prior), in
# (0, 1], and it multiplies the rating average: one no-show before any session taught
# costs a fifth of the score (4.5 -> 3.6), one in twenty sessions taught about 4%.
RELIABILITY_PRIOR = 4
LATE_CANCEL_WEIGHT = 0.5


def teacher_reliability(*, taught: int, no_shows: int, late_cancels: int) -> float:
    missed = no_shows + LATE_CANCEL_WEIGHT * late_cancels
    return (taught + RELIABILITY_PRIOR) / (taught + missed + RELIABILITY_PRIOR)


def teacher_score(
    *, count: int, total: int, taught: int = 0, no_shows: int = 0, late_cancels: int = 0
) -> float:
    """The ranking score of a teacher with ``count`` ratings adding up to ``total`` stars
    (a Bayesian average), times their reliability. The one definition: stored, never
    computed in SQL."""
    average = (PRIOR_WEIGHT * PRIOR_MEAN + total) / (PRIOR_WEIGHT + count)
    return average * teacher_reliability(
        taught=taught, no_shows=no_shows, late_cancels=late_cancels
    )


def reliability_shown(*, taught: int, no_shows: int, late_cancels: int) -> int | None:
    """The reliability a learner sees on a card: the percent of the teacher's sessions they
    kept (taught, rather than missed or cancelled late), or None without any history."""
    kept_or_not = taught + no_shows + late_cancels
    return None if kept_or_not == 0 else round(100 * taught / kept_or_not)


NEW_TEACHER_SCORE = teacher_score(count=0, total=0)


def teacher_score_field(*, prefix: str = ""):
    """A teacher's stored score on a ``User`` queryset (or through ``prefix``, e.g.
    ``teacher__``); a teacher never rated has ``NEW_TEACHER_SCORE``."""
    return Coalesce(F(f"{prefix}rating_summary__score"), Value(NEW_TEACHER_SCORE))


def teacher_score_of(*, teacher_id: int) -> float:
    """The teacher's stored score (``NEW_TEACHER_SCORE`` without ratings)."""
    score = TeacherRating.objects.filter(teacher_id=teacher_id).values_list("score", flat=True)
    return score.first() or NEW_TEACHER_SCORE


def rating_summary(*, count: int, total: int, score: float | None = None) -> dict:
    """``{average, count, score}`` as cards show them; ``score`` is the stored ranking score
    (ratings and reliability) when known, else the ratings' alone."""
    return {
        "average": round(total / count, 2) if count else None,
        "count": count,
        "score": round(teacher_score(count=count, total=total) if score is None else score, 3),
    }


def rating_exists(*, booking_id: int) -> bool:
    return Rating.objects.filter(booking_id=booking_id).exists()


def rating_for_booking(*, booking_id: int) -> Rating | None:
    return Rating.objects.filter(booking_id=booking_id).first()


def ratings_for_teacher(*, teacher_id: int, limit: int = 20):
    return Rating.objects.filter(teacher_id=teacher_id).select_related("learner")[:limit]


# --- The credit ledger -------------------------------------------------------------------


def credits_price(*, minutes: int) -> int:
    """What ``minutes`` of a session cost the learner (``CREDITS_PER_MINUTE`` each)."""
    return max(0, minutes) * settings.CREDITS_PER_MINUTE


def credits_summary(*, user: User) -> dict[str, int]:
    """``{balance, held, available}``: ``available`` is spendable, ``held`` sits in escrow for
    open bookings, ``balance = available + held``. One indexed read (zeros without an account);
    the shape of the ``credits`` block of ``/api/me/``."""
    row = Account.objects.filter(user_id=user.pk).values_list("available", "held").first()
    available, held = row or (0, 0)
    return {"balance": available + held, "held": held, "available": available}


def credits_account_balance(*, account: Account) -> int:
    """The sum of an account's entries (for the escrow and platform accounts, whose balances
    are not stored; for a user account it equals ``available``)."""
    return account.entries.aggregate(total=Coalesce(Sum("amount"), 0))["total"]


def credits_for_bookings(*, booking_ids: list[int]) -> dict[int, dict[str, int]]:
    """``{booking_id: {"held", "paid"}}`` for the given bookings (two queries): ``held`` is
    what is in escrow for it now (0 once released or settled), ``paid`` what its teacher
    was paid. Bookings without a hold are absent."""
    result = {
        booking_id: {"held": amount if closed is None else 0, "paid": 0}
        for booking_id, amount, closed in Hold.objects.filter(
            booking_id__in=booking_ids
        ).values_list("booking_id", "amount", "closed_by")
    }
    payments = LedgerEntry.objects.filter(
        transfer__kind=Transfer.Kind.PAYMENT,
        transfer__booking_id__in=list(result),
        amount__gt=0,
    ).values_list("transfer__booking_id", "amount")
    for booking_id, amount in payments:
        result[booking_id]["paid"] = amount
    return result


@dataclass(frozen=True)
class HistoryEntry:
    """One entry on a user's account, with what it was for."""

    id: int
    amount: int
    kind: str
    description: str
    reason: str
    booking_id: int | None
    counterparty: User | None
    created_at: datetime
    transfer_id: int

    @property
    def magnitude(self) -> int:
        return abs(self.amount)


@dataclass(frozen=True)
class HistoryPage:
    entries: list[HistoryEntry]
    next_cursor: str | None


def history_cursor(entry_id: int) -> str:
    return urlsafe_b64encode(f"e{entry_id}".encode()).decode().rstrip("=")


def history_cursor_position(cursor: str) -> int:
    """The entry id a ``cursor`` (from ``HistoryPage.next_cursor``) continues before."""
    try:
        text = urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        position = int(text[1:]) if text.startswith("e") else 0
        if not 0 < position < 2**63:
            raise ValueError(text)
        return position
    except (ValueError, UnicodeDecodeError):
        raise ValidationFailed(
            "Invalid cursor.", fields={"cursor": ["Use the next link as given."]}
        ) from None


def _describe(kind: str, amount: int, booking_id: int | None, other: User | None) -> str:
    session = f"session #{booking_id}" if booking_id else "a session"
    if kind == Transfer.Kind.GRANT:
        return "Sign-up grant"
    if kind == Transfer.Kind.ADJUSTMENT:
        return "Adjustment by SkillLink staff"
    if kind == Transfer.Kind.HOLD:
        return f"Held for {session}"
    if kind == Transfer.Kind.RELEASE:
        return f"Hold returned for {session}"
    if kind == Transfer.Kind.PAYMENT:
        name = other.username if other is not None else "a former user"
        return f"Paid by {name} for {session}" if amount > 0 else f"Paid to {name} for {session}"
    return Transfer.Kind(kind).label if kind in Transfer.Kind.values else kind


def credits_history(*, user: User, limit: int = 50, cursor: str | None = None) -> HistoryPage:
    """The entries on ``user``'s account, newest first, ``limit`` at a time (keyset paging on
    the entry id: a page neither skips nor repeats entries as new ones arrive). Three queries.
    Raises ``ValidationFailed`` for a cursor that is not one of ours."""
    before = history_cursor_position(cursor) if cursor else None
    rows = LedgerEntry.objects.filter(account__user_id=user.pk).select_related("transfer")
    if before is not None:
        rows = rows.filter(id__lt=before)
    rows = list(rows.order_by("-id")[: limit + 1])
    page, more = rows[:limit], len(rows) > limit
    # The other person in each payment: the other user account's entry of that transfer.
    payments = [e.transfer_id for e in page if e.transfer.kind == Transfer.Kind.PAYMENT]
    others: dict[int, User] = {}
    if payments:
        for other in (
            LedgerEntry.objects.filter(transfer_id__in=payments, account__user__isnull=False)
            .exclude(account__user_id=user.pk)
            .select_related("account__user")
        ):
            others[other.transfer_id] = other.account.user
    entries = [
        HistoryEntry(
            id=e.pk,
            amount=e.amount,
            kind=e.transfer.kind,
            description=_describe(
                e.transfer.kind, e.amount, e.transfer.booking_id, others.get(e.transfer_id)
            ),
            reason=e.transfer.reason,
            booking_id=e.transfer.booking_id,
            counterparty=others.get(e.transfer_id),
            created_at=e.transfer.created_at,
            transfer_id=e.transfer_id,
        )
        for e in page
    ]
    return HistoryPage(entries=entries, next_cursor=history_cursor(page[-1].pk) if more else None)


def credits_balance_points(*, user: User, limit: int = 100) -> list[tuple[datetime, int]]:
    """``(moment, balance after it)`` for the last ``limit`` changes of ``user``'s balance,
    oldest first, starting with ``(account opened, 0)`` when every change fits.

    Holds and their return move credits between ``available`` and ``held`` and leave the
    balance as it is, so only grants, payments and adjustments are points. Two queries.
    """
    account = Account.objects.filter(user_id=user.pk).first()
    if account is None:
        return []
    # In time order (callers may record a transfer at a given moment, e.g. the sweep's).
    changes = list(
        LedgerEntry.objects.filter(account=account)
        .exclude(transfer__kind__in=[Transfer.Kind.HOLD, Transfer.Kind.RELEASE])
        .order_by("-transfer__created_at", "-id")
        .values_list("transfer__created_at", "amount")[: limit + 1]
    )
    points = []
    balance = account.balance
    for moment, amount in changes[:limit]:
        points.append((moment, balance))
        balance -= amount
    if len(changes) <= limit:
        opened = min([account.created_at, *(moment for moment, _ in points)])
        points.append((opened, 0))
    points.reverse()
    return points
