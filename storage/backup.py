"""A consistent copy of the database while the bot runs: SQLite's online backup API.

The copy is written to a temporary file beside the target and renamed into place, so a
backup interrupted midway never leaves a file that looks whole. Readers and the bot's
writes go on meanwhile (WAL); the copy is of one moment.
"""

from __future__ import annotations

import os
import sqlite3
import tempfile
from pathlib import Path

from storage.errors import StorageError

PAGES_PER_STEP = 1024  # copy in steps, so the bot's writes are not held up for long


def backup(database: str | Path, target: str | Path) -> int:
    """Copy `database` to `target` (which must not exist yet); the copy's size in bytes."""
    database, target = Path(database), Path(target)
    if not database.is_file():
        raise StorageError(f"no database at {database}")
    if target.exists():
        raise StorageError(f"{target} exists already: choose a new file name")
    fd, temporary = tempfile.mkstemp(dir=target.parent, prefix=".backup-", suffix=".sqlite3")
    os.close(fd)
    try:
        source = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
        copy = sqlite3.connect(temporary)
        try:
            source.backup(copy, pages=PAGES_PER_STEP)
            problems = copy.execute("PRAGMA quick_check").fetchone()[0]
        finally:
            copy.close()
            source.close()
        if problems != "ok":
            raise StorageError(f"the copy of {database} failed its check: {problems}")
        os.replace(temporary, target)
    except sqlite3.Error as exc:
        raise StorageError(f"backing up {database} failed: {exc}") from exc
    finally:
        Path(temporary).unlink(missing_ok=True)
    return target.stat().st_size
