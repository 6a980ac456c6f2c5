import zoneinfo
from urllib.parse import unquote

from django.utils import timezone

from accounts.models import timezone_names


class ViewerTimezoneMiddleware:
    """Render times in the viewer's zone: the account's, else the browser's (``tz`` cookie)."""

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
        return self.get_response(request)
