"""Pages for credits: the signed-in user's balance, history and balance chart."""

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.utils import timezone

from credits.charts import balance_chart
from credits.selectors import (
    credits_balance_points,
    credits_history,
    credits_summary,
)
from skilllink.errors import AppError

HISTORY_PAGE = 25


@login_required
def credits_overview(request):
    user = request.user
    cursor = request.GET.get("cursor") or None
    try:
        history = credits_history(user=user, limit=HISTORY_PAGE, cursor=cursor)
    except AppError:
        # A mangled link: show the newest entries rather than an error page.
        cursor = None
        history = credits_history(user=user, limit=HISTORY_PAGE)
    context = {
        "summary": credits_summary(user=user),
        "history": history,
        "older_page": cursor is not None,
        "chart": balance_chart(credits_balance_points(user=user), now=timezone.now()),
        "per_minute": settings.CREDITS_PER_MINUTE,
        "signup_grant": settings.CREDITS_SIGNUP_GRANT,
    }
    return render(request, "credits/overview.html", context)
