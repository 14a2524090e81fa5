"""Upgrades keep data: a data folder written at the oldest schema is migrated and answered
from; `batchviz backup` copies a database that is being written."""

from __future__ import annotations

import sqlite3
import threading

import pytest

from bot.answers import Answerer, Asker
from bot.cli import main
from bot.commands import parse
from bot.service import rebuild
from bot.settings import database_path
from pipeline.demo import load_demo
from pipeline.embed import HashingEmbedder
from pipeline.params import PipelineParams
from storage import StorageError, Store
from storage.backup import backup
from storage.migrations import MIGRATIONS

SOURCE = "main"


def write_oldest(data_dir) -> list:
    """The demo's people and their introductions, and one opt-out, stored at schema 1."""
    people = load_demo()[:30]
    with Store(database_path(data_dir), migrations=MIGRATIONS[:1]) as old:
        assert old.schema_version == 1
        for number, doc in enumerate(people, 1):
            old.upsert_person(doc.person_id, doc.name)
            old.upsert_message(SOURCE, number, doc.person_id, doc.text, doc.text, 1_700_000_000 + number)
        old.set_consent(people[-1].person_id, opted_out=True)
    return people


def test_oldest_schema_is_migrated_and_answered_from(tmp_path):
    """Schema 1 → the latest: every introduction is kept, the opt-out still holds, and
    `who's near me` is answered from a map built on the migrated data."""
    people = write_oldest(tmp_path)
    with Store(database_path(tmp_path)) as store:
        assert store.schema_version == len(MIGRATIONS) > 1
        assert store.opted_out(people[-1].person_id)
        assert {d.person_id for d in store.documents(SOURCE)} == {p.person_id for p in people[:-1]}
        rebuild(store, SOURCE, PipelineParams(), HashingEmbedder())
        answerer = Answerer(store, SOURCE, join_where="#**welcome**")
        reply = answerer.answer(parse("who's near me"), Asker(people[0].person_id, people[0].name))
    assert any(p.name in reply for p in people[1:-1]), reply
    assert people[-1].name not in reply


def test_backup_while_the_bot_writes(tmp_path):
    """The online backup of a database under writes is whole and opens at the latest schema."""
    write_oldest(tmp_path)
    database = database_path(tmp_path)
    Store(database).close()  # migrated to the latest schema before the writes begin
    stop = threading.Event()

    def writer():
        with Store(database) as store:
            number = 1000
            while not stop.is_set():
                number += 1
                store.upsert_message(SOURCE, number, "writer", f"text {number}", f"text {number}", number)

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        assert main(["backup", "--data-dir", str(tmp_path), "-o", str(tmp_path / "copy.sqlite3")]) == 0
    finally:
        stop.set()
        thread.join()
    with sqlite3.connect(tmp_path / "copy.sqlite3") as copy:
        assert copy.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert copy.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
        assert copy.execute("SELECT COUNT(*) FROM messages WHERE source = ?", (SOURCE,)).fetchone()[0] >= 29


def test_backup_never_overwrites(tmp_path):
    write_oldest(tmp_path)
    (tmp_path / "copy.sqlite3").write_text("precious")
    with pytest.raises(StorageError, match="exists already"):
        backup(database_path(tmp_path), tmp_path / "copy.sqlite3")
    assert (tmp_path / "copy.sqlite3").read_text() == "precious"
