"""Checks and normalisation of values before they reach SQL: one place for each rule."""

from __future__ import annotations

import numbers


def as_text(value, name: str) -> str:
    """A string that SQLite can store: lone surrogates (from hostile JSON) become U+FFFD."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise TypeError(f"{name} must be text, not {type(value).__name__}")
    return value.encode("utf-8", "surrogatepass").decode("utf-8", "replace")


def as_key(value, name: str) -> str:
    """A non-empty identifier; Zulip's integer ids are accepted and kept as text."""
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return str(int(value))
    text = as_text(value, name).strip()
    if not text:
        raise ValueError(f"{name} must not be empty")
    return text


def as_int(value, name: str) -> int:
    """An integer (message ids, timestamps); text and floats are refused."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, not {type(value).__name__}")
    return int(value)
