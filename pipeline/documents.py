"""Documents: one per person, the unit every pipeline stage works on."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Document:
    """One person's introduction.

    ``person_id`` is stable across rebuilds (a Zulip user id as text, or a CSV row key);
    ``text`` is what gets embedded (cleaned); ``raw`` is what the person wrote.
    """

    person_id: str
    name: str
    text: str
    raw: str = ""
    extra: dict = field(default_factory=dict, compare=False, hash=False)

    @property
    def text_hash(self) -> str:
        return text_hash(self.text)


def text_hash(text: str) -> str:
    """The cache key of a text (the model is the other half of the key)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
