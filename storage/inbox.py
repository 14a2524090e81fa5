"""The durable command inbox: every command is recorded before it is acknowledged, and
marked answered only once its reply is in Zulip.

A command goes `new` (recorded) → `sending` (its reply computed and kept, so that a
restart can look for it in Zulip before sending it again) → `answered`; one with a second
reply to come (`refresh`) goes `following` after its first, then `sending` again with the
second. Once answered,
the message and the reply are blanked: the row only remembers that the command was
answered, so that the same message seen again (a re-delivered event, a catch-up read)
is never answered twice. Answered rows are pruned after `INBOX_KEEP_SECONDS`.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

from storage.db import Database
from storage.values import as_int, as_key, as_text

INBOX_KEEP_SECONDS = 30 * 24 * 3600
NEW, SENDING, FOLLOWING, ANSWERED = "new", "sending", "following", "answered"


@dataclass(frozen=True)
class PendingCommand:
    message: dict  # the Zulip message as received
    reply: str | None  # the reply being sent when the process stopped, if any
    following: bool = False  # its first reply went out; a second one (a refresh's result) is owed


class InboxMixin:
    _db: Database

    def inbox_add(self, message: dict) -> bool:
        """Record a command message; False when it was recorded before (answered or not)."""
        message_id = as_int(message.get("id"), "message id")
        sender = as_key(message.get("sender_id"), "sender id")
        payload = as_text(json.dumps(message, ensure_ascii=False), "message")
        with self._db.transaction() as conn:
            cursor = conn.execute(
                "INSERT OR IGNORE INTO inbox (message_id, sender_id, message, state, received_at)"
                " VALUES (?, ?, ?, ?, ?)", (message_id, sender, payload, NEW, int(time.time())))
            return cursor.rowcount == 1

    def inbox_sending(self, message_id: int, reply: str) -> None:
        """The reply is about to be sent: keep it, so a restart can find it in Zulip."""
        with self._db.transaction() as conn:
            conn.execute("UPDATE inbox SET state = ?, reply = ? WHERE message_id = ? AND state != ?",
                         (SENDING, as_text(reply, "reply"), as_int(message_id, "message id"), ANSWERED))

    def inbox_following(self, message_id: int) -> None:
        """The first reply is in Zulip; a second one is owed (the command is kept for it)."""
        with self._db.transaction() as conn:
            conn.execute("UPDATE inbox SET state = ?, reply = NULL WHERE message_id = ? AND state != ?",
                         (FOLLOWING, as_int(message_id, "message id"), ANSWERED))

    def inbox_answered(self, message_id: int) -> None:
        """The reply is in Zulip: forget the texts, remember the answer."""
        with self._db.transaction() as conn:
            conn.execute("UPDATE inbox SET state = ?, message = '', reply = NULL, answered_at = ?"
                         " WHERE message_id = ?", (ANSWERED, int(time.time()),
                                                   as_int(message_id, "message id")))
            conn.execute("DELETE FROM inbox WHERE state = ? AND answered_at < ?",
                         (ANSWERED, int(time.time()) - INBOX_KEEP_SECONDS))

    def inbox_pending(self) -> list[PendingCommand]:
        """Commands not answered yet, oldest first."""
        with self._db.transaction(write=False) as conn:
            rows = conn.execute("SELECT message, reply, state FROM inbox WHERE state != ? ORDER BY message_id",
                                (ANSWERED,)).fetchall()
        return [PendingCommand(json.loads(message), reply, state == FOLLOWING) for message, reply, state in rows]

    def inbox_backlog(self) -> int:
        """How many commands are not answered yet."""
        with self._db.transaction(write=False) as conn:
            return conn.execute("SELECT COUNT(*) FROM inbox WHERE state != ?", (ANSWERED,)).fetchone()[0]

    def inbox_state(self, message_id: int) -> str | None:
        with self._db.transaction(write=False) as conn:
            row = conn.execute("SELECT state FROM inbox WHERE message_id = ?",
                               (as_int(message_id, "message id"),)).fetchone()
        return None if row is None else row[0]
