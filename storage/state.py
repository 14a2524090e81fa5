"""Small key/value state for the bot (last weekly post, last refresh …)."""

from __future__ import annotations

from storage.db import Database
from storage.values import as_key, as_text


class StateMixin:
    _db: Database

    def get_state(self, key: str) -> str | None:
        with self._db.transaction(write=False) as conn:
            row = conn.execute("SELECT value FROM state WHERE key = ?",
                               (as_key(key, "key"),)).fetchone()
        return None if row is None else row[0]

    def set_state(self, key: str, value: str | None) -> None:
        """Store a value; None removes the key."""
        key = as_key(key, "key")
        with self._db.transaction() as conn:
            if value is None:
                conn.execute("DELETE FROM state WHERE key = ?", (key,))
            else:
                conn.execute("INSERT OR REPLACE INTO state (key, value) VALUES (?, ?)",
                             (key, as_text(value, "value")))
