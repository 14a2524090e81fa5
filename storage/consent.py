"""Consent: opting out forgets a person's texts and keeps their future messages out."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime, timezone

from pipeline.documents import text_hash
from storage.cache import delete_embeddings
from storage.db import Database
from storage.messages import is_opted_out, join_messages
from storage.values import as_key
from storage.withdraw import SCRUBBED_KEY, withdraw


class ConsentMixin:
    """Opt-out and opt-in; every method is one transaction."""

    _db: Database

    def set_consent(self, user_id, opted_out: bool) -> None:
        """Record a choice; opting out also forgets everything the person wrote."""
        user_id = as_key(user_id, "user_id")
        changed_at = datetime.now(timezone.utc).isoformat()
        with self._db.transaction() as conn:
            conn.execute(
                "INSERT INTO people (user_id, opted_out, consent_changed_at) VALUES (?, ?, ?) "
                "ON CONFLICT (user_id) DO UPDATE SET opted_out = excluded.opted_out, "
                "consent_changed_at = excluded.consent_changed_at",
                (user_id, int(bool(opted_out)), changed_at),
            )
            if opted_out:
                self.forget_person(user_id)
        if opted_out:
            self._db.scrub()

    def scrubbed_stamp(self) -> str | None:
        """Changes whenever someone is taken out of stored snapshots: a map held in
        memory from before must be read again."""
        with self._db.transaction(write=False) as conn:
            row = conn.execute("SELECT value FROM state WHERE key = ?", (SCRUBBED_KEY,)).fetchone()
        return None if row is None else row[0]

    def opted_out(self, user_id) -> bool:
        with self._db.transaction(write=False) as conn:
            return is_opted_out(conn, as_key(user_id, "user_id"))

    def opted_out_ids(self) -> frozenset[str]:
        """Everyone who has opted out (one query)."""
        with self._db.transaction(write=False) as conn:
            return frozenset(row[0] for row in conn.execute("SELECT user_id FROM people WHERE opted_out = 1"))

    def forget_person(self, user_id) -> int:
        """Delete the person's messages (every source), the cached embeddings of their
        texts, and in stored snapshots their words, name, cluster sentences, embedding
        row, neighbours and id (``storage.withdraw``); returns the messages deleted.

        Snapshots keep an anonymous blank in the person's place (so stored maps stay
        whole) until the next build leaves them out; the map files of those snapshots are
        never served again (``servable_files``).
        """
        user_id = as_key(user_id, "user_id")
        with self._db.transaction() as conn:
            texts = _texts(conn, user_id)
            delete_embeddings(conn, {text_hash(text) for text in texts})
            _scrub_sentences(conn, user_id, texts)
            withdraw(conn, user_id)
            deleted = conn.execute("DELETE FROM messages WHERE user_id = ?", (user_id,)).rowcount
        self._db.scrub()
        return deleted


def _scrub_sentences(conn: sqlite3.Connection, user_id: str, texts: set[str]) -> None:
    """Drop the sentences quoted from the person's texts from every snapshot they are in."""
    rows = conn.execute(
        "SELECT id, clusters FROM snapshots WHERE id IN "
        "(SELECT snapshot_id FROM snapshot_people WHERE person_id = ?)", (user_id,)).fetchall()
    for snapshot_id, encoded in rows:
        clusters = json.loads(encoded)
        for cluster in clusters:
            cluster["sentences"] = [s for s in cluster.get("sentences", [])
                                    if not any(s.strip() and s.strip() in text for text in texts)]
        conn.execute("UPDATE snapshots SET clusters = ? WHERE id = ?",
                     (json.dumps(clusters, ensure_ascii=False), snapshot_id))


def _texts(conn: sqlite3.Connection, user_id: str) -> set[str]:
    """Every text of the person that may have been embedded or quoted: each message, each
    source's joined document now, and the document text of every stored snapshot."""
    rows = conn.execute(
        "SELECT source, raw, clean FROM messages WHERE user_id = ? "
        "ORDER BY timestamp, message_id", (user_id,)
    ).fetchall()
    texts = {clean.strip() for _, _, clean in rows} | {clean for _, _, clean in rows}
    for source in {row[0] for row in rows}:
        mine = [row for row in rows if row[0] == source]
        texts.add(join_messages([r[1] for r in mine], [r[2] for r in mine])[0])
    texts.update(text for (text,) in conn.execute(
        "SELECT text FROM snapshot_people WHERE person_id = ?", (user_id,)))
    return {text for text in texts if text}
