"""How times read, in one place: the viewer's zone and 12- or 24-hour clock.

``moment_format`` is the one function that turns a moment into text for people — pages
(the ``clock`` template filters), notifications and emails (``User.local_label``) use it.
The clock is the user's ``time_format``; "auto" follows the browser's locale, known on
pages through the ``clock`` cookie that ``static/js/shell.js`` sets (``h12``/``h23``) and
activated per request by ``ViewerTimezoneMiddleware``. Text written for someone outside
their own request (a notification to the other participant, an email) uses 24 hours for
"auto", as nothing says what their browser prefers.
"""

from datetime import datetime, time, tzinfo

from asgiref.local import Local
from django.utils import timezone

# ``value``: (user id or None for an anonymous viewer, 12-hour?) of the request being
# answered. asgiref's Local, like Django's active time zone: it follows the request across
# the sync/async hops of ASGI.
_viewer_clock = Local()

STYLES = ("time", "date", "datetime", "long")


def clock_activate(*, user_id: int | None, hour12: bool) -> None:
    """The clock of the request being answered (``user_id``: its viewer, None if anonymous)."""
    _viewer_clock.value = (user_id, hour12)


def clock_deactivate() -> None:
    _viewer_clock.value = None


def browser_hour12(cookie: str | None) -> bool | None:
    """The browser's clock from the ``clock`` cookie (None when unknown)."""
    return {"h12": True, "h11": True, "h23": False, "h24": False}.get(cookie or "")


def uses_12_hour(user=None) -> bool:
    """Whether times for ``user`` (default: the current viewer) read "2:00 PM"."""
    active = getattr(_viewer_clock, "value", None)
    if user is not None and getattr(user, "time_format", "auto") in ("12", "24"):
        return user.time_format == "12"
    if active is None:
        return False
    viewer_id, hour12 = active
    if user is None or getattr(user, "pk", None) == viewer_id:
        return hour12
    return False


def time_format(moment: datetime | time, *, hour12: bool) -> str:
    if hour12:
        hour = moment.hour % 12 or 12
        return f"{hour}:{moment.minute:02d} {'PM' if moment.hour >= 12 else 'AM'}"
    return f"{moment.hour:02d}:{moment.minute:02d}"


def moment_format(
    moment: datetime, *, style: str = "datetime", user=None, zone: tzinfo | None = None
) -> str:
    """``moment`` as ``user`` (default: the current viewer) reads it, in ``zone`` (default:
    ``user``'s zone, else the active one). Styles: "time" ("14:00" / "2:00 PM"), "date"
    ("Wed Dec 2"), "datetime" ("Wed Dec 2, 14:00"), "long" ("Wednesday, Dec 2, 2026 · 14:00").
    """
    if style not in STYLES:
        raise ValueError(f"unknown style {style!r}")
    if zone is None:
        zone = user.zone if user is not None else timezone.get_current_timezone()
    local = moment.astimezone(zone)
    clock = time_format(local, hour12=uses_12_hour(user))
    if style == "time":
        return clock
    if style == "date":
        return f"{local:%a %b} {local.day}"
    if style == "long":
        return f"{local:%A, %b} {local.day}, {local.year} · {clock}"
    return f"{local:%a %b} {local.day}, {clock}"


def quarter_hours(*, user=None) -> list[tuple[str, str]]:
    """The 96 quarter hours of a day as (``HH:MM`` value, label in the viewer's clock)."""
    hour12 = uses_12_hour(user)
    return [
        (f"{h:02d}:{m:02d}", time_format(time(h, m), hour12=hour12))
        for h in range(24)
        for m in (0, 15, 30, 45)
    ]
