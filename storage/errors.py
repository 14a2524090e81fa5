"""Domain exceptions of storage; the edges (CLI, bot) turn them into messages."""


class StorageError(Exception):
    """Base class: the message is meant for a user (it names the file or value)."""


class SchemaTooNewError(StorageError):
    """The database was written by a newer batchviz than this one."""


class MigrationError(StorageError):
    """A schema migration failed; the database is left at the previous version."""


class SnapshotError(StorageError):
    """A map result that cannot be stored, or a stored one that cannot be read."""


class CorruptDatabaseError(StorageError):
    """The SQLite file is damaged; the message names it and the ways to recover."""
