"""Schema creation, upgrades and refusals, on real SQLite files."""

from __future__ import annotations

import sqlite3

import pytest

from storage import MigrationError, SchemaTooNewError, StorageError, Store
from storage.migrations import MIGRATIONS, Migration

ADD_FLAGS = Migration(len(MIGRATIONS) + 1, "message flags",
                      ("ALTER TABLE messages ADD COLUMN flags INTEGER NOT NULL DEFAULT 0",))


def test_fresh_database_gets_every_table_at_the_last_version(db_path, query):
    """An empty file is created (with its folder), migrated to the last version, in WAL mode."""
    Store(db_path).close()
    assert query("PRAGMA user_version") == [(len(MIGRATIONS),)]
    assert query("PRAGMA journal_mode") == [("wal",)]
    tables = {name for (name,) in query("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"people", "messages", "embeddings", "snapshots", "state"} <= tables


def test_connection_enforces_foreign_keys(store):
    """The store's connection has foreign keys on, so pruning a snapshot cascades."""
    with store._db.transaction(write=False) as conn:
        assert conn.execute("PRAGMA foreign_keys").fetchone() == (1,)


def test_old_database_upgrades_and_keeps_its_data(db_path, query):
    """A database made by the previous code gains a later migration without losing rows."""
    with Store(db_path) as old:
        old.upsert_message("welcome", 7, "42", "Hi, I sing", "Hi, I sing", 100)
    with Store(db_path, migrations=MIGRATIONS + (ADD_FLAGS,)) as new:
        assert new.schema_version == ADD_FLAGS.version
        assert [doc.text for doc in new.documents("welcome")] == ["Hi, I sing"]
    assert query("PRAGMA user_version") == [(ADD_FLAGS.version,)]
    assert query("SELECT message_id, flags FROM messages") == [(7, 0)]


def test_failed_migration_leaves_the_previous_version(db_path, query):
    """A step that fails midway is rolled back whole: version and tables as before."""
    Store(db_path).close()
    broken = Migration(len(MIGRATIONS) + 1, "broken",
                       ("CREATE TABLE half_done (x INTEGER)", "THIS IS NOT SQL"))
    with pytest.raises(MigrationError, match="broken"):
        Store(db_path, migrations=MIGRATIONS + (broken,))
    assert query("PRAGMA user_version") == [(len(MIGRATIONS),)]
    assert query("SELECT name FROM sqlite_master WHERE name = 'half_done'") == []
    Store(db_path).close()  # the current code still opens it


def test_newer_database_is_refused_with_a_clear_error(db_path):
    """A file from a newer batchviz names its version instead of being damaged."""
    Store(db_path).close()
    conn = sqlite3.connect(db_path)
    conn.execute("PRAGMA user_version = 99")
    conn.close()
    with pytest.raises(SchemaTooNewError, match="99"):
        Store(db_path)


def test_migration_versions_must_be_in_order(db_path):
    """A gap in the migration list is a programming error caught before touching the file."""
    gap = Migration(len(MIGRATIONS) + 2, "gap", ("SELECT 1",))
    with pytest.raises(ValueError, match="in order"):
        Store(db_path, migrations=MIGRATIONS + (gap,))


def test_a_file_that_is_not_a_database_is_a_storage_error(tmp_path):
    """Pointing the store at some other file gives a message naming it, not a crash."""
    path = tmp_path / "notes.db"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StorageError, match="notes.db"):
        Store(path)


def test_close_is_idempotent_and_use_after_close_is_an_error(db_path):
    """Closing twice is fine; a call on a closed store says it is closed."""
    store = Store(db_path)
    store.close()
    store.close()
    assert store.closed
    with pytest.raises(StorageError, match="closed"):
        store.message_count("welcome")


def test_context_manager_closes(db_path):
    """Leaving the with block closes the store."""
    with Store(db_path) as store:
        assert not store.closed
    assert store.closed


def test_keep_snapshots_must_be_positive(db_path):
    """keep_snapshots=0 would delete every map; it is refused."""
    with pytest.raises(ValueError, match="keep_snapshots"):
        Store(db_path, keep_snapshots=0)
