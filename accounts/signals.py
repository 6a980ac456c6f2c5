"""Signals accounts sends for apps built on it (which import accounts, never the reverse)."""

from django.dispatch import Signal

# A teacher stopped teaching a skill (inside the removing transaction): receivers get
# ``teacher`` and ``skill`` and may return how many of their rows they changed.
teacher_skill_removed = Signal()
