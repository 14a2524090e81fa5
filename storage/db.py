"""One SQLite connection shared by the bot's threads, and its transactions.

The bot touches the store from its event thread, the scheduler thread and the web
server thread, so the connection is opened with ``check_same_thread=False`` and every
transaction holds one re-entrant lock. Other processes (the CLI) are kept in order by
SQLite's own locking, with WAL so readers never wait for a writer.

The file shrinks after deletions (incremental vacuum: the free pages are given back
after each write transaction that leaves more than ``SHRINK_PAGES``), and a damaged file
is reported when opened, and whenever SQLite finds damage later, as a
``CorruptDatabaseError`` that names it and the ways to recover.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from storage.errors import CorruptDatabaseError, StorageError

BUSY_TIMEOUT_MS = 10_000
INCREMENTAL = 2  # PRAGMA auto_vacuum's value for incremental vacuum
SHRINK_PAGES = 8  # free pages left by a write transaction before they are given back
DAMAGED = (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB)


class Database:
    """An open SQLite file; use ``transaction()`` for every statement."""

    def __init__(self, path: str | Path, check: bool = True):
        self.path = Path(path)
        self._lock = threading.RLock()
        self._depth = 0
        self._conn: sqlite3.Connection | None = _connect(self.path, check)

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
            except BaseException as exc:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                if _damaged(exc):
                    raise damaged(self.path, exc) from exc
                raise
            else:
                conn.execute("COMMIT")
                if write:
                    _shrink(conn)
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


def _connect(path: Path, check: bool = True) -> sqlite3.Connection:
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
        if check:
            _check(conn, path)
    except sqlite3.Error as exc:
        if conn is not None:
            conn.close()
        if _damaged(exc):
            raise damaged(path, exc) from exc
        raise StorageError(f"cannot open the database {path}: {exc}") from exc
    except CorruptDatabaseError:
        conn.close()
        raise
    return conn


def damaged(path: Path, problem: object) -> CorruptDatabaseError:
    return CorruptDatabaseError(
        f"the database {path} is damaged ({problem}). Stop the bot, then restore the file from a "
        f"backup, or recover what SQLite can read: `sqlite3 {path} .recover | sqlite3 {path}.recovered`, "
        f"then move {path}.recovered to {path}. Moving the file aside instead starts afresh: the "
        "introductions are read again from Zulip, but who opted out is forgotten.")


def _damaged(exc: BaseException) -> bool:
    return isinstance(exc, sqlite3.DatabaseError) and getattr(exc, "sqlite_errorcode", None) in DAMAGED


def _check(conn: sqlite3.Connection, path: Path) -> None:
    """A damaged file is reported at once, not at the first query that reads the damage."""
    verdict = conn.execute("PRAGMA quick_check(1)").fetchone()[0]
    if verdict != "ok":
        raise damaged(path, verdict)


def _shrink(conn: sqlite3.Connection) -> None:
    """Give the free pages back to the file system (deleted rows make free pages)."""
    try:
        if conn.execute("PRAGMA freelist_count").fetchone()[0] > SHRINK_PAGES:
            conn.executescript("PRAGMA incremental_vacuum;")  # stepped to the end: every free page
    except sqlite3.OperationalError:  # busy: the next write transaction tries again
        pass


def _configure(conn: sqlite3.Connection) -> None:
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA foreign_keys = ON")
    if conn.execute("PRAGMA auto_vacuum").fetchone()[0] != INCREMENTAL:  # before WAL writes the header
        conn.execute("PRAGMA auto_vacuum = INCREMENTAL")  # a new file: in force from its first table
        if conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]:
            _vacuum_once(conn)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute("PRAGMA secure_delete = ON")  # deleted rows are zeroed, not left in free pages


def _vacuum_once(conn: sqlite3.Connection) -> None:
    """A file made before incremental vacuum: rewritten once so that it can shrink."""
    try:
        conn.execute("VACUUM")
    except sqlite3.OperationalError:  # another process is reading: next time
        pass
