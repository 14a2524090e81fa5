"""Map snapshots: each build stored whole in one transaction, then never changed.

A snapshot's row is marked ``complete`` as the last write of its transaction and
readers only see complete ones, so a crash mid-write leaves the previous map as latest.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime

from pipeline.result import MapResult
from storage.cache import prune_embeddings
from storage.codec import EncodedArray, EncodedSnapshot, decode_snapshot, encode_snapshot
from storage.db import Database
from storage.values import as_int, as_key

_HEADER = ("id", "source", "built_at", "model", "params", "notice", "n_people", "clusters",
           "neighbours")


class SnapshotMixin:
    """Save and read map snapshots; every method is one transaction."""

    _db: Database
    keep_snapshots: int

    def save_snapshot(self, source: str, result: MapResult) -> int:
        """Store a build; returns its id. Older snapshots beyond ``keep_snapshots`` go, and
        the cached vectors no kept snapshot or current document uses go with them."""
        source = as_key(source, "source")
        encoded = encode_snapshot(result)
        with self._db.transaction() as conn:
            snapshot_id = _insert_header(conn, source, encoded)
            _insert_people(conn, snapshot_id, encoded.people)
            _insert_arrays(conn, snapshot_id, encoded.arrays)
            conn.execute("UPDATE snapshots SET complete = 1 WHERE id = ?", (snapshot_id,))
            _prune(conn, source, self.keep_snapshots)
            prune_embeddings(conn, {doc.text_hash for doc in result.people})
        return snapshot_id

    def latest_snapshot(self, source: str) -> MapResult | None:
        """The latest complete map of the source, or None before the first build."""
        return self._load_where("source = ? AND complete = 1",
                                (as_key(source, "source"),))

    def snapshot_before(self, source: str, snapshot_id: int) -> MapResult | None:
        """The complete map built just before ``snapshot_id`` (for "what changed")."""
        return self._load_where("source = ? AND complete = 1 AND id < ?",
                                (as_key(source, "source"), as_int(snapshot_id, "snapshot_id")))

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


def _insert_header(conn: sqlite3.Connection, source: str, encoded: EncodedSnapshot) -> int:
    cursor = conn.execute(
        "INSERT INTO snapshots (source, built_at, model, params, notice, n_people, clusters, "
        "neighbours, complete) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0)",
        (source, encoded.built_at, encoded.model, encoded.params, encoded.notice,
         len(encoded.people), encoded.clusters, encoded.neighbours))
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


def _prune(conn: sqlite3.Connection, source: str, keep: int) -> None:
    """Keep the newest ``keep`` complete snapshots of the source; drop older and broken ones."""
    conn.execute(
        "DELETE FROM snapshots WHERE source = ? AND (complete = 0 OR id NOT IN ("
        "SELECT id FROM snapshots WHERE source = ? AND complete = 1 ORDER BY id DESC LIMIT ?))",
        (source, source, keep))
