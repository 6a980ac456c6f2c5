"""Times in templates, in the viewer's zone and clock (``accounts.clock.moment_format``):

{% load clock %}
{{ booking.start|clock }}      14:00 / 2:00 PM
{{ booking.start|day }}        Wed Dec 2
{{ booking.start|when }}       Wed Dec 2, 14:00
{{ booking.start|when_long }}  Wednesday, Dec 2, 2026 · 14:00
"""

from django import template

from accounts.clock import moment_format, quarter_hours

register = template.Library()


def _format(value, style: str) -> str:
    if not value:
        return ""
    return moment_format(value, style=style)


@register.filter
def clock(value) -> str:
    return _format(value, "time")


@register.filter
def day(value) -> str:
    return _format(value, "date")


@register.filter
def when(value) -> str:
    return _format(value, "datetime")


@register.filter
def when_long(value) -> str:
    return _format(value, "long")


@register.simple_tag
def quarter_hour_choices() -> list[tuple[str, str]]:
    """(``HH:MM``, label) for a day's quarter hours, labelled in the viewer's clock."""
    return quarter_hours()
