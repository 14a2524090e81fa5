"""``Store``: one SQLite file holding everything batchviz remembers."""

from __future__ import annotations

from pathlib import Path

from storage.cache import EmbeddingCacheMixin
from storage.consent import ConsentMixin
from storage.inbox import InboxMixin
from storage.db import Database
from storage.messages import MessagesMixin
from storage.migrations import MIGRATIONS, migrate
from storage.snapshots import SnapshotMixin
from storage.state import StateMixin

KEEP_SNAPSHOTS = 20


class Store(MessagesMixin, ConsentMixin, EmbeddingCacheMixin, SnapshotMixin, StateMixin,
            InboxMixin):
    """Opens (creates, migrates, WAL) one SQLite file; every method is one transaction.

    Safe to share between threads; usable as a context manager. ``check`` False skips the
    integrity scan at open (it reads the whole file): for the build worker, which opens the
    file for every build after the bot checked it at its start.
    """

    def __init__(self, path: str | Path, keep_snapshots: int = KEEP_SNAPSHOTS,
                 migrations=MIGRATIONS, retention_days: float | None = None, check: bool = True):
        if keep_snapshots < 1:
            raise ValueError(f"keep_snapshots must be at least 1, got {keep_snapshots}")
        self.path = Path(path)
        self.keep_snapshots = keep_snapshots
        self.retention_days = retention_days  # None: snapshots are pruned by count only
        self._db = Database(self.path, check)
        try:
            self.schema_version = migrate(self._db, migrations)
        except BaseException:
            self._db.close()
            raise

    @property
    def closed(self) -> bool:
        return self._db.closed

    def close(self) -> None:
        """Close the database; closing twice is harmless."""
        self._db.close()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self.closed else f"schema v{self.schema_version}"
        return f"Store({str(self.path)!r}, {state})"
