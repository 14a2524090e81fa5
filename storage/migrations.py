"""The schema, as versioned migration steps applied in order.

``PRAGMA user_version`` records the last step applied. Each step runs in its own
transaction, so a failing step leaves the database at the previous version. Add new
steps at the end of ``MIGRATIONS``; never edit one that has shipped.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Sequence

from storage.db import Database
from storage.errors import MigrationError, SchemaTooNewError


@dataclass(frozen=True)
class Migration:
    version: int
    description: str
    statements: tuple[str, ...]


_V1 = (
    """CREATE TABLE people (
        user_id TEXT PRIMARY KEY,
        name TEXT NOT NULL DEFAULT '',
        email TEXT NOT NULL DEFAULT '',
        opted_out INTEGER NOT NULL DEFAULT 0,
        consent_changed_at TEXT
    )""",
    """CREATE TABLE messages (
        message_id INTEGER PRIMARY KEY,
        source TEXT NOT NULL,
        user_id TEXT NOT NULL REFERENCES people(user_id) ON DELETE CASCADE,
        raw TEXT NOT NULL,
        clean TEXT NOT NULL,
        timestamp INTEGER NOT NULL,
        stream TEXT NOT NULL DEFAULT '',
        topic TEXT NOT NULL DEFAULT ''
    )""",
    "CREATE INDEX messages_by_source ON messages(source, timestamp, message_id)",
    "CREATE INDEX messages_by_user ON messages(user_id)",
    """CREATE TABLE source_marks (
        source TEXT PRIMARY KEY,
        last_message_id INTEGER NOT NULL
    )""",
    """CREATE TABLE embeddings (
        model_id TEXT NOT NULL,
        text_hash TEXT NOT NULL,
        vector BLOB NOT NULL,
        PRIMARY KEY (model_id, text_hash)
    ) WITHOUT ROWID""",
    "CREATE INDEX embeddings_by_hash ON embeddings(text_hash)",
    """CREATE TABLE snapshots (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        source TEXT NOT NULL,
        built_at TEXT NOT NULL,
        model TEXT NOT NULL,
        params TEXT NOT NULL,
        notice TEXT,
        n_people INTEGER NOT NULL,
        clusters TEXT NOT NULL,
        neighbours TEXT NOT NULL,
        complete INTEGER NOT NULL DEFAULT 0
    )""",
    "CREATE INDEX snapshots_by_source ON snapshots(source, complete, id)",
    """CREATE TABLE snapshot_people (
        snapshot_id INTEGER NOT NULL REFERENCES snapshots(id) ON DELETE CASCADE,
        position INTEGER NOT NULL,
        person_id TEXT NOT NULL,
        name TEXT NOT NULL,
        text TEXT NOT NULL,
        raw TEXT NOT NULL,
        extra TEXT NOT NULL,
        PRIMARY KEY (snapshot_id, position)
    ) WITHOUT ROWID""",
    "CREATE INDEX snapshot_people_by_person ON snapshot_people(person_id)",
    """CREATE TABLE snapshot_arrays (
        snapshot_id INTEGER NOT NULL REFERENCES snapshots(id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        dtype TEXT NOT NULL,
        shape TEXT NOT NULL,
        data BLOB NOT NULL,
        PRIMARY KEY (snapshot_id, name)
    ) WITHOUT ROWID""",
    """CREATE TABLE state (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
    )""",
)

_V2 = (
    """CREATE TABLE inbox (
        message_id INTEGER PRIMARY KEY,
        sender_id TEXT NOT NULL,
        message TEXT NOT NULL,
        state TEXT NOT NULL,
        reply TEXT,
        received_at INTEGER NOT NULL,
        answered_at INTEGER
    )""",
    "CREATE INDEX inbox_by_state ON inbox(state, message_id)",
)

MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "people, messages, consent, embedding cache, snapshots, state", _V1),
    Migration(2, "snapshots: the stem of their map files, and when they were saved", (
        "ALTER TABLE snapshots ADD COLUMN files TEXT NOT NULL DEFAULT ''",
        "ALTER TABLE snapshots ADD COLUMN saved_at TEXT NOT NULL DEFAULT ''",
    )),
    Migration(3, "the durable command inbox", _V2),
)


def schema_version(conn: sqlite3.Connection) -> int:
    return conn.execute("PRAGMA user_version").fetchone()[0]


def migrate(db: Database, migrations: Sequence[Migration] = MIGRATIONS) -> int:
    """Bring the database up to the last step; returns the version reached."""
    target = _check_sequence(migrations)
    with db.transaction(write=False) as conn:
        _refuse_newer(db, schema_version(conn), target)
    for step in migrations:
        _apply(db, step, target)
    return target


def _apply(db: Database, step: Migration, target: int) -> None:
    with db.transaction() as conn:
        current = schema_version(conn)  # re-read: another process may have migrated
        _refuse_newer(db, current, target)
        if step.version <= current:
            return
        try:
            for statement in step.statements:
                conn.execute(statement)
        except sqlite3.Error as exc:
            raise MigrationError(
                f"{db.path}: migration {step.version} ({step.description}) failed: {exc}"
            ) from exc
        conn.execute(f"PRAGMA user_version = {int(step.version)}")


def _refuse_newer(db: Database, current: int, target: int) -> None:
    if current > target:
        raise SchemaTooNewError(
            f"{db.path} has schema version {current}, but this batchviz only knows "
            f"up to {target}: upgrade batchviz or use another data folder"
        )


def _check_sequence(migrations: Sequence[Migration]) -> int:
    versions = [step.version for step in migrations]
    if versions != list(range(1, len(versions) + 1)):
        raise ValueError(f"migration versions must be 1, 2, 3 … in order, got {versions}")
    return len(versions)
