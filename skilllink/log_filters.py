"""Logging filters (core: imports no app).

URLs carry two kinds of secret: a socket's ``?token=<JWT>`` and the private calendar
feed's ``/calendar/<token>.ics``. :class:`RedactTokens` rewrites both wherever they reach
a log line (the server's access log, Django's "Not Found: ..." warnings), so whoever
reads the logs cannot replay a token or subscribe to someone's calendar.
"""

import logging
import re

PATTERNS = (
    (re.compile(r"((?:^|[?&])token=)[^&\s\"]+"), r"\1[redacted]"),
    (re.compile(r"(/calendar/)(?!reset/)[^/\s\"?#]+(\.ics)"), r"\1[redacted]\2"),
)


def redact(text: str) -> str:
    for pattern, replacement in PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class RedactTokens(logging.Filter):
    """Replace secrets in a record's message and arguments with ``[redacted]``."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.args:
            args = record.args if isinstance(record.args, tuple) else (record.args,)
            record.args = tuple(redact(arg) if isinstance(arg, str) else arg for arg in args)
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        return True
