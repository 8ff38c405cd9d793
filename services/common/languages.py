"""Languages the Forum works in."""

from __future__ import annotations

# The six official languages of the United Nations (ToR rule 23).
UN_LANGUAGES = ("ar", "zh", "en", "fr", "ru", "es")
