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
