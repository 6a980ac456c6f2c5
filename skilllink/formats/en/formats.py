"""English date formats: Django's, except that a date and time names its zone.

Django admin renders datetimes with ``DATETIME_FORMAT`` in the viewer's activated zone
(``ViewerTimezoneMiddleware``); without the zone a staff member in Tokyo could not tell
14:00 UTC from 14:00 JST. ``T`` is the zone's abbreviation (or its UTC offset).
"""

from django.conf.locale.en.formats import *  # noqa: F403

DATETIME_FORMAT = "N j, Y, H:i T"
SHORT_DATETIME_FORMAT = "m/d/Y H:i T"
