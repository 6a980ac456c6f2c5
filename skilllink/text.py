"""Text people type, checked the same way everywhere before it is stored.

Control characters and bidirectional overrides have no place in chat, names or bios:
NUL cannot even be stored in PostgreSQL (one NUL failed a whole shared insert batch), and
the others garble or disguise what the other side sees. Newlines (``\\r\\n`` and lone ``\\r`` become ``\\n``) and tabs are
kept where a text may span lines. The same refusal on SQLite and PostgreSQL.
"""

import re

from skilllink.errors import ValidationFailed

# C0 controls but tab and newline, DEL, and the C1 block.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_CONTROL_ONE_LINE = re.compile(r"[\x00-\x1f\x7f-\x9f]")
# Bidirectional embeddings and overrides (LRE, RLE, PDF, LRO, RLO) and isolates (LRI, RLI,
# FSI, PDI): they reorder what follows them, so a name or bio could show text other than
# what it holds ("Trojan Source"). The plain marks (LRM, RLM, ALM) stay: right-to-left
# writers need them and they reorder nothing beyond their neighbours.
_BIDI = re.compile("[\u202a-\u202e\u2066-\u2069]")


def bidi_controls_found(value: str) -> bool:
    return _BIDI.search(value) is not None


def control_characters_found(value: str, *, multiline: bool) -> bool:
    pattern = _CONTROL if multiline else _CONTROL_ONE_LINE
    return pattern.search(value) is not None


def text_clean(
    value: object,
    *,
    field: str,
    max_length: int,
    multiline: bool = True,
    required: bool = True,
    empty_message: str = "Type something first.",
) -> str:
    """``value`` as it will be stored (line ends normalised, outer whitespace stripped),
    or ``ValidationFailed`` (code ``invalid``, ``fields[field]``) saying what is wrong
    (control characters, text-direction overrides, length)."""
    if not isinstance(value, str):
        raise ValidationFailed(f'"{field}" must be a string.', fields={field: ["Not a string."]})
    text = value.replace("\r\n", "\n").replace("\r", "\n").strip()
    if required and not text:
        raise ValidationFailed(empty_message, fields={field: [empty_message]})
    if control_characters_found(text, multiline=multiline):
        message = "Remove the control characters (only line breaks and tabs are allowed)."
        if not multiline:
            message = "Remove the control characters and line breaks."
        raise ValidationFailed(message, fields={field: [message]})
    if bidi_controls_found(text):
        message = "Remove the invisible text-direction characters (such as U+202E)."
        raise ValidationFailed(message, fields={field: [message]})
    if len(text) > max_length:
        message = f"At most {max_length:,} characters."
        raise ValidationFailed(message, fields={field: [message]})
    return text
