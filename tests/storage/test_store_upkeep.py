"""The file's upkeep (issue 21.11): it shrinks after deletions, and a damaged file is
reported clearly, naming it and the ways to recover."""

from __future__ import annotations

import sqlite3

import pytest

from bot.cli import main
from storage import CorruptDatabaseError, Store


def _fill(store: Store, people: int = 40, messages: int = 25) -> None:
    for person in range(people):
        for i in range(messages):
            store.upsert_message("main", person * 1000 + i, f"u{person}", "I like knots. " * 80,
                                 "I like knots. " * 80, i, "welcome", "intros")


def test_the_file_shrinks_after_deletions(tmp_path):
    """1,000 messages of about 1 KB each, then the people are forgotten: the file gives
    the space back instead of keeping it as free pages."""
    path = tmp_path / "bot.sqlite3"
    with Store(path) as store:
        _fill(store)
        store.forget_person("u0")  # copies the WAL into the file
        full = path.stat().st_size
        for person in range(1, 40):
            store.forget_person(f"u{person}")
        assert path.stat().st_size < full / 4


def test_a_file_made_before_incremental_vacuum_is_converted(tmp_path):
    """An existing file without incremental vacuum is rewritten once when opened."""
    path = tmp_path / "old.sqlite3"
    with Store(path) as store:
        _fill(store, people=2)
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA auto_vacuum = NONE")
        conn.execute("VACUUM")
        assert conn.execute("PRAGMA auto_vacuum").fetchone()[0] == 0
    conn.close()
    with Store(path) as store:
        assert store.documents("main") and store.get_state("x") is None
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA auto_vacuum").fetchone()[0] == 2
    conn.close()


def _damage(path) -> None:
    """Overwrite the middle of the file's pages (not its header), as a failing disk might."""
    data = bytearray(path.read_bytes())
    page = 4096
    for start in range(2 * page, len(data), page):
        data[start + 8:start + 600] = b"\x07" * 592
    path.write_bytes(bytes(data))


def test_a_damaged_file_is_reported_at_open_with_the_way_to_recover(tmp_path, capsys):
    """Opening a damaged file raises CorruptDatabaseError naming the file and `.recover`;
    the command line prints it as one line, without a traceback."""
    data_dir = tmp_path / "data"
    path = data_dir / "batchviz.sqlite3"
    with Store(path) as store:
        _fill(store, people=4)
    _damage(path)
    with pytest.raises(CorruptDatabaseError) as raised:
        Store(path)
    assert str(path) in str(raised.value) and ".recover" in str(raised.value)
    assert main(["export", "--data-dir", str(data_dir), "-o", str(tmp_path / "x.parquet")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("batchviz: error: the database") and "Traceback" not in err


def test_check_false_opens_without_the_scan(tmp_path):
    """``check=False`` (the build worker's open, once per build) does not read the whole file
    at open: a file the default open reports as damaged opens (the bot scanned it at start)."""
    path = tmp_path / "data" / "batchviz.sqlite3"
    with Store(path) as store:
        _fill(store, people=4)
    _damage(path)
    with pytest.raises(CorruptDatabaseError):
        Store(path)
    Store(path, check=False).close()


def test_the_build_worker_opens_the_store_without_the_scan():
    """A build reads only what it needs: the worker's open passes ``check=False``."""
    import ast
    import inspect

    from bot import builder

    calls = [node for node in ast.walk(ast.parse(inspect.getsource(builder)))
             if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "Store"]
    assert calls and all(any(k.arg == "check" and k.value.value is False for k in c.keywords) for c in calls)
