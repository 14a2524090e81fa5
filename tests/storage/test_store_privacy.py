"""What the store keeps private: file modes, and opt-out against everything stored."""

from __future__ import annotations

import os
import stat

from storage import Store


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_data_folder_and_database_are_private(tmp_path):
    """The folder of people's words and names is 0700, the database and its WAL 0600,
    whatever the umask (issue 9.8)."""
    old = os.umask(0o022)
    try:
        with Store(tmp_path / "data" / "db.sqlite3") as store:
            store.upsert_person("1", "Ann")
            files = [p for p in (tmp_path / "data").iterdir()]
            assert mode(tmp_path / "data") == 0o700
            assert files and {p.name: mode(p) for p in files} == {p.name: 0o600 for p in files}
    finally:
        os.umask(old)


def test_an_existing_open_folder_and_database_are_tightened(tmp_path):
    """A data folder left at 0755 and a database left at 0644 (an older version, a copy,
    a restore) are made 0700 and 0600 when the store opens them (issue 28)."""
    folder = tmp_path / "data"
    with Store(folder / "db.sqlite3") as store:
        store.upsert_person("1", "Ann")
    folder.chmod(0o755)
    (folder / "db.sqlite3").chmod(0o644)
    with Store(folder / "db.sqlite3") as store:
        assert store.documents("main") == []  # still readable after the change
        assert mode(folder) == 0o700
        assert mode(folder / "db.sqlite3") == 0o600
