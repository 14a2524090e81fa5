"""People and their messages, and the documents built from them (one per person)."""

from __future__ import annotations

import sqlite3

from pipeline.documents import Document
from storage.db import Database
from storage.values import as_int, as_key, as_text

SEPARATOR = "\n\n"

_UPSERT_MESSAGE = """
INSERT INTO messages (message_id, source, user_id, raw, clean, timestamp, stream, topic)
VALUES (?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (message_id) DO UPDATE SET
    source = excluded.source, user_id = excluded.user_id, raw = excluded.raw,
    clean = excluded.clean, timestamp = excluded.timestamp,
    stream = excluded.stream, topic = excluded.topic
WHERE (messages.source, messages.user_id, messages.raw, messages.clean,
       messages.timestamp, messages.stream, messages.topic)
   IS NOT (excluded.source, excluded.user_id, excluded.raw, excluded.clean,
           excluded.timestamp, excluded.stream, excluded.topic)
"""

_UPSERT_PERSON = """
INSERT INTO people (user_id, name, email) VALUES (?, ?, ?)
ON CONFLICT (user_id) DO UPDATE SET
    name = CASE WHEN excluded.name != '' THEN excluded.name ELSE people.name END,
    email = CASE WHEN excluded.email != '' THEN excluded.email ELSE people.email END
"""

_DOCUMENT_ROWS = """
SELECT m.user_id, p.name, m.message_id, m.raw, m.clean
FROM messages AS m JOIN people AS p ON p.user_id = m.user_id
WHERE m.source = ? AND p.opted_out = 0
ORDER BY m.timestamp, m.message_id
"""


def join_messages(raws: list[str], cleans: list[str]) -> tuple[str, str]:
    """A person's document text and raw text from their messages, in time order."""
    text = SEPARATOR.join(clean.strip() for clean in cleans if clean.strip())
    return text, SEPARATOR.join(raw for raw in raws)


def is_opted_out(conn: sqlite3.Connection, user_id: str) -> bool:
    row = conn.execute("SELECT opted_out FROM people WHERE user_id = ?", (user_id,)).fetchone()
    return bool(row and row[0])


def raise_mark(conn: sqlite3.Connection, source: str, message_id: int) -> None:
    """Remember the largest message id seen in a source (the backfill anchor)."""
    conn.execute(
        "INSERT INTO source_marks (source, last_message_id) VALUES (?, ?) "
        "ON CONFLICT (source) DO UPDATE SET last_message_id = "
        "max(last_message_id, excluded.last_message_id)",
        (source, message_id),
    )


class MessagesMixin:
    """People, messages and documents; every method is one transaction."""

    _db: Database

    def upsert_person(self, user_id, name: str, email: str = "") -> None:
        """Add or rename a person; an empty name or email keeps the stored one."""
        row = (as_key(user_id, "user_id"), as_text(name, "name").strip(), as_text(email, "email"))
        with self._db.transaction() as conn:
            conn.execute(_UPSERT_PERSON, row)

    def person_id(self, ref: str) -> str | None:
        """The stored person whose user id or email (any case) is `ref`, or None."""
        ref = as_text(ref, "ref").strip()
        with self._db.transaction(write=False) as conn:
            row = conn.execute("SELECT user_id FROM people WHERE user_id = ? OR (email != '' AND "
                               "lower(email) = lower(?)) ORDER BY user_id != ? LIMIT 1", (ref, ref, ref)).fetchone()
        return None if row is None else row[0]

    def upsert_message(self, source: str, message_id: int, user_id, raw: str, clean: str,
                       timestamp: int, stream: str = "", topic: str = "") -> bool:
        """Insert or edit a message; True when stored content changed.

        Messages of people who opted out are not stored (returns False).
        """
        source = as_key(source, "source")
        message_id = as_int(message_id, "message_id")
        user_id = as_key(user_id, "user_id")
        row = (message_id, source, user_id, as_text(raw, "raw"), as_text(clean, "clean"),
               as_int(timestamp, "timestamp"), as_text(stream, "stream"), as_text(topic, "topic"))
        with self._db.transaction() as conn:
            raise_mark(conn, source, message_id)
            if is_opted_out(conn, user_id):
                return False
            conn.execute("INSERT OR IGNORE INTO people (user_id) VALUES (?)", (user_id,))
            return conn.execute(_UPSERT_MESSAGE, row).rowcount > 0

    def edit_message(self, message_id: int, raw: str, clean: str) -> bool | None:
        """A stored message's new text (an edit); True when it changed, None when the
        message is not stored."""
        row = (as_text(raw, "raw"), as_text(clean, "clean"), as_int(message_id, "message_id"))
        with self._db.transaction() as conn:
            if conn.execute("SELECT 1 FROM messages WHERE message_id = ?", row[2:]).fetchone() is None:
                return None
            return conn.execute("UPDATE messages SET raw = ?, clean = ? WHERE message_id = ? "
                                "AND (raw, clean) IS NOT (?, ?)", row + row[:2]).rowcount > 0

    def delete_message(self, message_id: int) -> bool:
        """Forget a message; False when it was not stored."""
        message_id = as_int(message_id, "message_id")
        with self._db.transaction() as conn:
            return conn.execute("DELETE FROM messages WHERE message_id = ?",
                                (message_id,)).rowcount > 0

    def move_message(self, message_id: int, source: str | None) -> bool:
        """A message moved to another source, or out of every source (None deletes it)."""
        if source is None:
            return self.delete_message(message_id)
        source = as_key(source, "source")
        message_id = as_int(message_id, "message_id")
        with self._db.transaction() as conn:
            moved = conn.execute(
                "UPDATE messages SET source = ? WHERE message_id = ? AND source != ?",
                (source, message_id, source),
            ).rowcount > 0
            if moved:
                raise_mark(conn, source, message_id)
            return moved

    def last_message_id(self, source: str) -> int | None:
        """The largest message id ever seen in the source; deletions don't lower it."""
        with self._db.transaction(write=False) as conn:
            row = conn.execute("SELECT last_message_id FROM source_marks WHERE source = ?",
                               (as_key(source, "source"),)).fetchone()
        return None if row is None else row[0]

    def message_count(self, source: str) -> int:
        with self._db.transaction(write=False) as conn:
            return conn.execute("SELECT count(*) FROM messages WHERE source = ?",
                                (as_key(source, "source"),)).fetchone()[0]

    def message_ids(self, source: str) -> set[int]:
        """Ids of every message stored for the source, with or without text."""
        with self._db.transaction(write=False) as conn:
            rows = conn.execute("SELECT message_id FROM messages WHERE source = ?",
                                (as_key(source, "source"),)).fetchall()
        return {row[0] for row in rows}

    def people_with_messages(self) -> set[str]:
        """Everyone with a stored message, in any source."""
        with self._db.transaction(write=False) as conn:
            return {row[0] for row in conn.execute("SELECT DISTINCT user_id FROM messages")}

    def sources_of(self, user_id) -> set[str]:
        """The sources in which the person has a stored message."""
        with self._db.transaction(write=False) as conn:
            rows = conn.execute("SELECT DISTINCT source FROM messages WHERE user_id = ?",
                                (as_key(user_id, "user_id"),)).fetchall()
        return {row[0] for row in rows}

    def documents(self, source: str) -> list[Document]:
        """One document per person, ordered by their first message; opted-out people and
        people with no text left after cleaning are excluded."""
        with self._db.transaction(write=False) as conn:
            return documents_in(conn, as_key(source, "source"))


def documents_in(conn: sqlite3.Connection, source: str) -> list[Document]:
    """`MessagesMixin.documents` inside a transaction already open."""
    rows = conn.execute(_DOCUMENT_ROWS, (source,)).fetchall()
    grouped: dict[str, list[tuple]] = {}
    for row in rows:
        grouped.setdefault(row[0], []).append(row)
    documents = (_document(user_id, person_rows) for user_id, person_rows in grouped.items())
    return [doc for doc in documents if doc.text]


def _document(user_id: str, rows: list[tuple]) -> Document:
    text, raw = join_messages([row[3] for row in rows], [row[4] for row in rows])
    name = rows[0][1] or user_id
    return Document(person_id=user_id, name=name, text=text, raw=raw,
                    extra={"message_ids": [row[2] for row in rows]})
