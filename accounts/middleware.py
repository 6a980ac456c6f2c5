import zoneinfo
from urllib.parse import unquote

from django.utils import timezone

from accounts.clock import browser_hour12, clock_activate
from accounts.models import timezone_names


class ViewerTimezoneMiddleware:
    """Render times in the viewer's zone: the account's, else the browser's (``tz`` cookie);
    and in their clock: the account's ``time_format``, for "auto" the browser's (``clock``
    cookie, else 24-hour)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        name = (
            user.timezone
            if user is not None and user.is_authenticated
            # shell.js writes it with encodeURIComponent ("Europe%2FParis").
            else unquote(request.COOKIES.get("tz", ""))
        )
        if name and name in timezone_names():
            timezone.activate(zoneinfo.ZoneInfo(name))
        else:
            timezone.deactivate()
        authenticated = user is not None and user.is_authenticated
        preference = user.time_format if authenticated else "auto"
        if preference == "auto":
            hour12 = bool(browser_hour12(request.COOKIES.get("clock")))
        else:
            hour12 = preference == "12"
        clock_activate(user_id=user.pk if authenticated else None, hour12=hour12)
        request.hour12 = hour12
        return self.get_response(request)
