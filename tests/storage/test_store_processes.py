"""Several processes on one database file: the bot, its build worker, the CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from storage import Store

ROOT = Path(__file__).resolve().parents[2]
OPEN_AND_CLOSE = "import sys; from storage import Store; Store(sys.argv[1]).close()"


def test_another_store_in_the_process_keeps_the_open_ones_locks(tmp_path):
    """Opening and closing a second Store on the file in this process must not drop the
    SQLite locks of the one still open. Otherwise another process closing its connection
    (the build worker after each build) takes itself for the last one and deletes the WAL
    under the open one: the next read fails with "disk I/O error", or a write is lost."""
    path = tmp_path / "db.sqlite3"
    with Store(path) as held:
        held.set_state("k", "1")
        Store(path).close()
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        subprocess.run([sys.executable, "-c", OPEN_AND_CLOSE, str(path)], check=True, cwd=ROOT, env=env)
        held.set_state("k", "2")
        with Store(path) as other:
            assert other.get_state("k") == "2"
