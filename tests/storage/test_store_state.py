"""Small key/value state, and sharing one store between threads."""

from __future__ import annotations

import threading

import pytest

from storage import Store


def test_state_round_trip_and_delete(db_path):
    """Values persist across reopening; None removes a key."""
    with Store(db_path) as store:
        assert store.get_state("last_weekly_post") is None
        store.set_state("last_weekly_post", "2024-05-01")
        store.set_state("last_weekly_post", "2024-05-08")
    with Store(db_path) as store:
        assert store.get_state("last_weekly_post") == "2024-05-08"
        store.set_state("last_weekly_post", None)
        assert store.get_state("last_weekly_post") is None


def test_state_values_must_be_text(store):
    """A number is refused rather than silently turned into text."""
    with pytest.raises(TypeError, match="value"):
        store.set_state("count", 3)


def run_threads(*targets):
    errors: list[BaseException] = []

    def guarded(target):
        try:
            target()
        except BaseException as exc:  # collected and re-raised in the test
            errors.append(exc)

    threads = [threading.Thread(target=guarded, args=(t,)) for t in targets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]


def test_threads_share_one_store(db_path, make_result):
    """Two ingesting threads, a building thread and a second connection work side by side."""
    store = Store(db_path)
    other = Store(db_path)  # another connection, as the CLI would open

    def ingest(first_id):
        def run():
            for i in range(first_id, first_id + 150):
                store.upsert_message("welcome", i, f"user{i % 40}", "hi", f"text {i}", i)
        return run

    def build():
        for seed in range(10):
            store.documents("welcome")
            store.save_snapshot("welcome", make_result(seed=seed))
            assert store.latest_snapshot("welcome") is not None

    def bookkeeping():
        for i in range(50):
            other.set_state(f"k{i}", str(i))

    try:
        run_threads(ingest(1), ingest(1001), build, bookkeeping)
        assert store.message_count("welcome") == 300
        assert store.last_message_id("welcome") == 1150
        assert len(store.documents("welcome")) == 40
        assert len(store.snapshot_ids("welcome")) == 10
        assert store.get_state("k49") == "49"
    finally:
        store.close()
        other.close()
