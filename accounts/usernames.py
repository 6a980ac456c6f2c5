"""What a username may be, and when two usernames are the same name to a reader.

- Letters (any script), digits 0-9, ``.``, ``_`` and ``-``; 1 to 150 characters after
  NFKC normalisation (so fullwidth letters are stored as their ASCII forms).
- Case-insensitively unique (the ``user_username_ci_unique`` index on ``Lower(username)``).
- Not confusable with another: each username's *skeleton* (in the spirit of Unicode TR39:
  NFKC, case folded, every character replaced by the representative of its homoglyph
  class, NFKC again) is stored in ``User.username_skeleton`` under a unique constraint, so
  "paul" spelled with a Cyrillic "a" (U+0430) clashes with "paul" in the database, whoever registers first.

The homoglyph classes come from the ``confusable-homoglyphs`` package's table (Unicode's
confusables data): characters listed as confusable with each other form one class,
represented by its lowest code point (an ASCII letter where one is in the class).
"""

import json
import unicodedata
from functools import cache
from pathlib import Path

import confusable_homoglyphs

USERNAME_MAX_LENGTH = 150
USERNAME_RULE = "Use letters, digits, dots, underscores and hyphens only (no spaces)."
_PUNCTUATION = frozenset("._-")
_DIGITS = frozenset("0123456789")


def username_normalise(raw: str) -> str:
    """``raw`` as it will be stored: NFKC, outer whitespace removed."""
    return unicodedata.normalize("NFKC", raw).strip()


def username_problem(name: str) -> str:
    """Why the (normalised) ``name`` cannot be a username, or "" when it can."""
    if not name:
        return "Choose a username."
    if len(name) > USERNAME_MAX_LENGTH:
        return f"Keep the username to {USERNAME_MAX_LENGTH} characters or fewer."
    if any(not (ch.isalpha() or ch in _DIGITS or ch in _PUNCTUATION) for ch in name):
        return USERNAME_RULE
    return ""


@cache
def _homoglyph_representatives() -> dict[str, str]:
    table = json.loads(
        (Path(confusable_homoglyphs.__file__).parent / "confusables.json").read_text("utf-8")
    )
    parent: dict[str, str] = {}

    def root(ch: str) -> str:
        while parent.get(ch, ch) != ch:
            parent[ch] = parent.get(parent[ch], parent[ch])
            ch = parent[ch]
        return ch

    for character, homoglyphs in table.items():
        if len(character) != 1:
            continue
        for homoglyph in homoglyphs:
            other = homoglyph["c"]
            if len(other) == 1:
                a, b = root(character), root(other)
                if a != b:
                    parent[max(a, b)] = min(a, b)
    return {ch: root(ch) for ch in parent}


def username_skeleton(name: str) -> str:
    """The form two names share when a reader could take one for the other."""
    folded = unicodedata.normalize("NFKC", name).casefold()
    representatives = _homoglyph_representatives()
    mapped = "".join(representatives.get(ch, ch) for ch in folded)
    return unicodedata.normalize("NFKC", mapped)
