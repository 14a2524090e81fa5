"""SQLite storage: people, messages, consent, embedding cache, map snapshots, state."""

from storage.errors import CorruptDatabaseError, MigrationError, SchemaTooNewError, SnapshotError, StorageError
from storage.store import Store

__all__ = ["Store", "StorageError", "CorruptDatabaseError", "SchemaTooNewError", "MigrationError", "SnapshotError"]
