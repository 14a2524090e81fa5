"""One SQLite connection shared by the bot's threads, and its transactions.

The bot touches the store from its event thread, the scheduler thread and the web
server thread, so the connection is opened with ``check_same_thread=False`` and every
transaction holds one re-entrant lock. Other processes (the CLI) are kept in order by
SQLite's own locking, with WAL so readers never wait for a writer.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from storage.errors import StorageError

BUSY_TIMEOUT_MS = 10_000


class Database:
    """An open SQLite file; use ``transaction()`` for every statement."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._lock = threading.RLock()
        self._depth = 0
        self._conn: sqlite3.Connection | None = _connect(self.path)

    @contextmanager
    def transaction(self, write: bool = True) -> Iterator[sqlite3.Connection]:
        """Run the block in one transaction; a nested call joins the outer one."""
        with self._lock:
            conn = self._open_connection()
            if self._depth:  # nested: join the outer transaction
                self._depth += 1
                try:
                    yield conn
                finally:
                    self._depth -= 1
                return
            conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            self._depth = 1
            try:
                yield conn
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            else:
                conn.execute("COMMIT")
            finally:
                self._depth = 0

    def close(self) -> None:
        """Close the connection; closing twice is harmless."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def scrub(self) -> None:
        """Copy the WAL into the file and empty it, so no old copy of deleted rows stays
        behind (secure_delete zeroes them in the file). Skipped inside a transaction."""
        with self._lock:
            if self._depth == 0:
                self._open_connection().execute("PRAGMA wal_checkpoint(TRUNCATE)")

    @property
    def closed(self) -> bool:
        return self._conn is None

    def _open_connection(self) -> sqlite3.Connection:
        if self._conn is None:
            raise StorageError(f"the database {self.path} is closed")
        return self._conn


def private_folder(folder: Path) -> Path:
    """Create the folder readable by this user only (0700); tighten it if it exists."""
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    folder.chmod(0o700)
    return folder


def _private_file(path: Path) -> None:
    """The database holds people's words and names: 0600 before SQLite first writes it
    (SQLite gives its -wal and -shm files the database file's mode).

    The file is opened here only to create it. Closing a descriptor of a file drops every
    POSIX lock this process holds on it, SQLite's included: with a connection already
    open in this process, another process closing its own connection would then think
    itself the last one and delete the WAL under it ("disk I/O error", writes lost)."""
    private_folder(path.parent)
    if not path.exists():
        os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
    path.chmod(0o600)


def _connect(path: Path) -> sqlite3.Connection:
    if str(path) != ":memory:":
        _private_file(path)
    conn = None
    try:
        conn = sqlite3.connect(
            str(path),
            timeout=BUSY_TIMEOUT_MS / 1000,
            isolation_level=None,  # transactions are explicit, see Database.transaction
            check_same_thread=False,
        )
        _configure(conn)
    except sqlite3.Error as exc:
        if conn is not None:
            conn.close()
        raise StorageError(f"cannot open the database {path}: {exc}") from exc
    return conn


def _configure(conn: sqlite3.Connection) -> None:
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute("PRAGMA secure_delete = ON")  # deleted rows are zeroed, not left in free pages
