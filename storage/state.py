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

    def states(self, prefix: str) -> dict[str, str]:
        """Every key starting with `prefix`, and its value."""
        with self._db.transaction(write=False) as conn:
            rows = conn.execute("SELECT key, value FROM state WHERE substr(key, 1, ?) = ?",
                                (len(prefix), as_text(prefix, "prefix"))).fetchall()
        return dict(rows)

    def set_state(self, key: str, value: str | None) -> None:
        """Store a value; None removes the key."""
        self.set_states({key: value})

    def set_states(self, values: dict[str, str | None]) -> None:
        """Store several values in one transaction (all or none); None removes a key."""
        rows = [(as_key(key, "key"), None if value is None else as_text(value, "value"))
                for key, value in values.items()]
        with self._db.transaction() as conn:
            for key, value in rows:
                if value is None:
                    conn.execute("DELETE FROM state WHERE key = ?", (key,))
                else:
                    conn.execute("INSERT OR REPLACE INTO state (key, value) VALUES (?, ?)", (key, value))
