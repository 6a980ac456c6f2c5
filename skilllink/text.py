"""Text people type, checked the same way everywhere before it is stored.

Control characters have no place in chat, names or bios: NUL cannot even be stored in
PostgreSQL (one NUL failed a whole shared insert batch), and the others garble what
the other side sees. Newlines (``\\r\\n`` and lone ``\\r`` become ``\\n``) and tabs are
kept where a text may span lines. The same refusal on SQLite and PostgreSQL.
"""

import re

from skilllink.errors import ValidationFailed

# C0 controls but tab and newline, DEL, and the C1 block.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_CONTROL_ONE_LINE = re.compile(r"[\x00-\x1f\x7f-\x9f]")
# Bidirectional embeddings, overrides and isolates: in a short public line they make
# text read in another order than it is stored ("Trojan source"). The marks (LRM, RLM)
# stay: right-to-left writing needs them.
_BIDI_CONTROL = re.compile(r"[\u202a-\u202e\u2066-\u2069]")


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
    refuse_bidi: bool = False,
) -> str:
    """``value`` as it will be stored (line ends normalised, outer whitespace stripped),
    or ``ValidationFailed`` (code ``invalid``, ``fields[field]``) saying what is wrong;
    ``refuse_bidi`` refuses text-direction overrides too."""
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
    if refuse_bidi and _BIDI_CONTROL.search(text):
        message = "Remove the text-direction control characters."
        raise ValidationFailed(message, fields={field: [message]})
    if len(text) > max_length:
        message = f"At most {max_length:,} characters."
        raise ValidationFailed(message, fields={field: [message]})
    return text
