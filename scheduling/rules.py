"""Scheduling rules that several reads and writes must agree on, each defined once.

Pages, API endpoints, matchmaking, discovery and consumers ask these functions; none
of them restates a rule.
"""

from datetime import datetime, timedelta
from functools import cache

from django.conf import settings
from django.db import connection
from django.db.models import Q, QuerySet

from accounts.models import User
from skilllink.errors import AppError

# --- Bookable teacher -------------------------------------------------------------------
# Who may be booked, matched and listed: an active account that still teaches. A teacher
# who switched to learning only, or a deactivated account, keeps past sessions but offers
# nothing new (slots stay in the database and come back if the role does).


def bookable_teachers() -> QuerySet[User]:
    """The rule, as the ORM reads it."""
    return User.objects.filter(is_active=True, is_teacher=True)


def bookable_teacher_q(prefix: str = "teacher__") -> Q:
    """The rule on a related user (``prefix`` leads from the queried model to it)."""
    return Q(**{f"{prefix}is_active": True, f"{prefix}is_teacher": True})


def teacher_is_bookable(user: User) -> bool:
    """The rule for a user already loaded (tests check it agrees with ``bookable_teachers``)."""
    return bool(user.is_active and user.is_teacher)


@cache
def _bookable_teacher_ids_sql(vendor: str) -> tuple[str, tuple]:
    sql, params = bookable_teachers().values("id").query.sql_with_params()
    return sql, tuple(params)


def bookable_teacher_ids_sql() -> tuple[str, list]:
    """``(SELECT id ...)`` text and params of ``bookable_teachers()``, for hand-written
    queries (compiled from the ORM rule once per database vendor)."""
    sql, params = _bookable_teacher_ids_sql(connection.vendor)
    return f"({sql})", list(params)


# --- Booking horizon ------------------------------------------------------------------
# Nothing is offered or asked for further ahead than BOOKING_HORIZON_DAYS: a slot in year
# 9999 is no offer anyone can take, and such dates overflow when shown east of UTC.


def horizon_end(now: datetime) -> datetime:
    return now + timedelta(days=settings.BOOKING_HORIZON_DAYS)


def horizon_check(*, moment: datetime, now: datetime, field: str) -> None:
    """400 ``beyond_horizon`` (naming ``field``) when ``moment`` lies past the horizon."""
    if moment > horizon_end(now):
        days = settings.BOOKING_HORIZON_DAYS
        raise AppError(
            f"Times can be at most {days} days ahead.",
            code="beyond_horizon",
            status=400,
            fields={field: [f"At most {days} days from now."]},
        )
