"""Map snapshots: each build stored whole in one transaction, then never changed.

A snapshot's row is marked ``complete`` as the last write of its transaction and
readers only see complete ones, so a crash mid-write leaves the previous map as latest.
Snapshots are kept up to ``keep_snapshots`` per source and, with ``retention_days``, no
longer than that (the latest always stays). A build that holds someone who opted out
while it ran is refused (see ``save_snapshot``): opting out wins over a build in flight.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta, timezone

from pipeline.result import MapResult
from pipeline.documents import text_hash
from storage.cache import chunks, delete_embeddings, prune_embeddings
from storage.codec import EncodedArray, EncodedSnapshot, decode_snapshot, encode_snapshot
from storage.db import Database
from storage.values import as_int, as_key
from storage.withdraw import GONE

_HEADER = ("id", "source", "built_at", "model", "params", "notice", "n_people", "clusters",
           "neighbours")


class SnapshotMixin:
    """Save and read map snapshots; every method is one transaction."""

    _db: Database
    keep_snapshots: int
    retention_days: float | None

    def save_snapshot(self, source: str, result: MapResult, files: str = "") -> int | None:
        """Store a build whose map files are named ``files`` (a stem); returns its id.
        Older snapshots beyond ``keep_snapshots`` or ``retention_days`` go.

        None when someone in the build opted out since it read their text: nothing is
        stored, and the vectors the build cached for them are deleted again, in the same
        transaction that checks (an opt-out is one transaction too, so one wins whole).
        """
        source = as_key(source, "source")
        encoded = encode_snapshot(result)
        with self._db.transaction() as conn:
            gone = _opted_out_among(conn, [doc.person_id for doc in result.people])
            if gone:
                delete_embeddings(conn, {text_hash(d.text) for d in result.people if d.person_id in gone})
                return None
            snapshot_id = _insert_header(conn, source, encoded, files)
            _insert_people(conn, snapshot_id, encoded.people)
            _insert_arrays(conn, snapshot_id, encoded.arrays)
            conn.execute("UPDATE snapshots SET complete = 1 WHERE id = ?", (snapshot_id,))
            _prune(conn, source, self.keep_snapshots, self.retention_days)
            prune_embeddings(conn, {doc.text_hash for doc in result.people})
        return snapshot_id

    def servable_files(self, snapshot_id: int) -> str | None:
        """The stem of a kept snapshot's map files, unless someone on that map has opted
        out or been withdrawn since (its files must not be served then), or None."""
        with self._db.transaction(write=False) as conn:
            row = conn.execute(
                "SELECT s.files FROM snapshots s WHERE s.id = ? AND s.complete = 1 AND s.files <> '' "
                "AND NOT EXISTS (SELECT 1 FROM snapshot_people sp LEFT JOIN people p ON p.user_id = sp.person_id "
                "WHERE sp.snapshot_id = s.id AND (p.opted_out = 1 OR sp.person_id = ?))",
                (as_int(snapshot_id, "snapshot_id"), GONE)
            ).fetchone()
        return row[0] if row else None

    def servable_stems(self, source: str) -> set[str]:
        """The file stems of the source's snapshots whose files may still be served."""
        with self._db.transaction(write=False) as conn:
            ids = [row[0] for row in conn.execute(
                "SELECT id FROM snapshots WHERE source = ? AND complete = 1", (as_key(source, "source"),))]
        return {stem for stem in map(self.servable_files, ids) if stem}

    def latest_snapshot(self, source: str) -> MapResult | None:
        """The latest complete map of the source, or None before the first build."""
        return self._load_where("source = ? AND complete = 1",
                                (as_key(source, "source"),))

    def load_snapshot(self, snapshot_id: int) -> MapResult | None:
        """One stored map by id, or None if it never existed or was pruned."""
        return self._load_where("id = ? AND complete = 1",
                                (as_int(snapshot_id, "snapshot_id"),))

    def snapshot_info(self, source: str) -> tuple[int, datetime, int] | None:
        """(id, built_at, number of people) of the latest complete map, or None."""
        with self._db.transaction(write=False) as conn:
            row = conn.execute(
                "SELECT id, built_at, n_people FROM snapshots WHERE source = ? AND complete = 1 "
                "ORDER BY id DESC LIMIT 1", (as_key(source, "source"),)).fetchone()
        return None if row is None else (row[0], datetime.fromisoformat(row[1]), row[2])

    def snapshot_ids(self, source: str) -> list[int]:
        """The ids of the stored complete maps of the source, oldest first."""
        with self._db.transaction(write=False) as conn:
            rows = conn.execute("SELECT id FROM snapshots WHERE source = ? AND complete = 1 "
                                "ORDER BY id", (as_key(source, "source"),))
            return [row[0] for row in rows]

    def _load_where(self, condition: str, args: tuple) -> MapResult | None:
        with self._db.transaction(write=False) as conn:
            row = conn.execute(f"SELECT {', '.join(_HEADER)} FROM snapshots "
                               f"WHERE {condition} ORDER BY id DESC LIMIT 1", args).fetchone()
            if row is None:
                return None
            header = dict(zip(_HEADER, row))
            people, arrays = _read_parts(conn, header["id"])
        return decode_snapshot(header, people, arrays)


def _opted_out_among(conn: sqlite3.Connection, person_ids: list[str]) -> set[str]:
    found: set[str] = set()
    for batch in chunks(person_ids):
        found.update(row[0] for row in conn.execute(
            f"SELECT user_id FROM people WHERE opted_out = 1 AND user_id IN ({','.join('?' * len(batch))})",
            batch))
    return found


def _insert_header(conn: sqlite3.Connection, source: str, encoded: EncodedSnapshot, files: str) -> int:
    cursor = conn.execute(
        "INSERT INTO snapshots (source, built_at, model, params, notice, n_people, clusters, "
        "neighbours, files, saved_at, complete) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0)",
        (source, encoded.built_at, encoded.model, encoded.params, encoded.notice,
         len(encoded.people), encoded.clusters, encoded.neighbours, files,
         datetime.now(timezone.utc).isoformat()))
    return cursor.lastrowid


def _insert_people(conn: sqlite3.Connection, snapshot_id: int, people: list[tuple]) -> None:
    conn.executemany(
        "INSERT INTO snapshot_people (snapshot_id, position, person_id, name, text, raw, extra) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        [(snapshot_id, position, *row) for position, row in enumerate(people)])


def _insert_arrays(conn: sqlite3.Connection, snapshot_id: int,
                   arrays: dict[str, EncodedArray]) -> None:
    conn.executemany(
        "INSERT INTO snapshot_arrays (snapshot_id, name, dtype, shape, data) "
        "VALUES (?, ?, ?, ?, ?)",
        [(snapshot_id, name, a.dtype, a.shape, a.data) for name, a in arrays.items()])


def _read_parts(conn: sqlite3.Connection, snapshot_id: int) -> tuple[list[tuple], dict]:
    people = conn.execute(
        "SELECT person_id, name, text, raw, extra FROM snapshot_people "
        "WHERE snapshot_id = ? ORDER BY position", (snapshot_id,)).fetchall()
    arrays = {name: (dtype, shape, data) for name, dtype, shape, data in conn.execute(
        "SELECT name, dtype, shape, data FROM snapshot_arrays WHERE snapshot_id = ?",
        (snapshot_id,))}
    return people, arrays


def _prune(conn: sqlite3.Connection, source: str, keep: int, days: float | None) -> None:
    """Keep the newest ``keep`` complete snapshots of the source, none saved more than
    ``days`` ago but the latest; drop older and broken ones."""
    conn.execute(
        "DELETE FROM snapshots WHERE source = ? AND (complete = 0 OR id NOT IN ("
        "SELECT id FROM snapshots WHERE source = ? AND complete = 1 ORDER BY id DESC LIMIT ?))",
        (source, source, keep))
    if days is not None:
        cutoff = (datetime.now(timezone.utc) - timedelta(days=days)).isoformat()
        conn.execute(
            "DELETE FROM snapshots WHERE source = ? AND saved_at < ? AND id <> ("
            "SELECT max(id) FROM snapshots WHERE source = ? AND complete = 1)", (source, cutoff, source))
