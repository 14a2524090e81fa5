"""Map snapshots: exact round trips, history, pruning, and all-or-nothing writes."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from pipeline.result import Neighbour
from storage import SnapshotError, Store

SOURCE = "welcome"
PROJECT = Path(__file__).resolve().parents[2]


def test_no_map_before_the_first_build(store):
    """Before any build there is no snapshot and no info."""
    assert store.latest_snapshot(SOURCE) is None
    assert store.snapshot_info(SOURCE) is None


@pytest.mark.parametrize("n, dims", [(5, 2), (4, 3), (1, 2), (0, 2)])
def test_round_trip_is_exact(store, make_result, same_result, n, dims):
    """Arrays (dtype, shape, values), people, clusters, neighbours and metadata come back equal."""
    result = make_result(n=n, dims=dims)
    store.save_snapshot(SOURCE, result)
    same_result(store.latest_snapshot(SOURCE), result)


def test_round_trip_survives_reopening(db_path, make_result, same_result):
    """A snapshot written by one store is read whole by another on the same file."""
    result = make_result(n=6, seed=3)
    with Store(db_path) as first:
        first.save_snapshot(SOURCE, result)
    with Store(db_path) as second:
        same_result(second.latest_snapshot(SOURCE), result)


def test_history_info_and_sources(store, make_result, same_result):
    """latest, load and info follow the build order, each source on its own."""
    first, second = make_result(seed=1), make_result(seed=2, n=5)
    id1 = store.save_snapshot(SOURCE, first)
    store.save_snapshot("other", make_result(seed=9))
    id2 = store.save_snapshot(SOURCE, second)
    same_result(store.latest_snapshot(SOURCE), second)
    same_result(store.load_snapshot(id1), first)
    assert store.snapshot_info(SOURCE) == (id2, second.built_at, 5)
    assert store.snapshot_ids(SOURCE) == [id1, id2]


def test_old_snapshots_are_pruned(db_path, make_result, query):
    """Only the newest keep_snapshots maps of a source stay, with their rows; others' stay too."""
    with Store(db_path, keep_snapshots=3) as store:
        other = store.save_snapshot("other", make_result(seed=0))
        ids = [store.save_snapshot(SOURCE, make_result(seed=i)) for i in range(1, 6)]
        assert store.snapshot_ids(SOURCE) == ids[-3:]
        assert store.snapshot_ids("other") == [other]
        assert store.load_snapshot(ids[0]) is None
    kept = tuple(ids[-3:] + [other])
    marks = ",".join("?" * len(kept))
    for table in ("snapshot_people", "snapshot_arrays"):
        assert query(f"SELECT count(*) FROM {table} WHERE snapshot_id NOT IN ({marks})",
                     kept) == [(0,)]


def test_a_part_that_cannot_be_stored_leaves_the_previous_map(store, make_result, query,
                                                              same_result):
    """A result whose neighbours cannot be serialised raises and changes nothing."""
    good = make_result(seed=1)
    store.save_snapshot(SOURCE, good)
    bad = make_result(seed=2)
    bad.neighbours[0].append(Neighbour(object(), 0.5, []))
    with pytest.raises(SnapshotError):
        store.save_snapshot(SOURCE, bad)
    same_result(store.latest_snapshot(SOURCE), good)
    assert query("SELECT count(*) FROM snapshots") == [(1,)]


@pytest.mark.parametrize("damage, message", [
    (lambda r: setattr(r, "labels", r.labels[:-1]), "different lengths"),
    (lambda r: setattr(r, "coords", np.array([object()] * len(r), dtype=object)), "numeric"),
    (lambda r: setattr(r, "built_at", "yesterday"), "built_at"),
])
def test_inconsistent_results_are_refused(store, make_result, damage, message):
    """Parts of different lengths, object arrays or a text date are clear errors."""
    result = make_result()
    damage(result)
    with pytest.raises(SnapshotError, match=message):
        store.save_snapshot(SOURCE, result)
    assert store.latest_snapshot(SOURCE) is None


CRASHING_WRITER = textwrap.dedent("""
    import os, pickle, sys
    import storage.snapshots as snapshots
    from storage import Store

    write_arrays = snapshots._insert_arrays

    def write_then_die(conn, snapshot_id, arrays):
        write_arrays(conn, snapshot_id, arrays)
        os._exit(3)  # the process dies with the snapshot written but not committed

    snapshots._insert_arrays = write_then_die
    with open(sys.argv[2], "rb") as f:
        result = pickle.load(f)
    Store(sys.argv[1]).save_snapshot("welcome", result)
""")


def test_a_crash_mid_write_leaves_the_previous_map(db_path, tmp_path, make_result, same_result,
                                                   query):
    """A process killed halfway through saving a snapshot leaves the previous one as latest."""
    good = make_result(seed=1)
    with Store(db_path) as store:
        store.save_snapshot(SOURCE, good)
    pickled = tmp_path / "result.pickle"
    pickled.write_bytes(pickle.dumps(make_result(seed=2, n=7)))
    env = {**os.environ, "PYTHONPATH": str(PROJECT)}
    done = subprocess.run([sys.executable, "-c", CRASHING_WRITER, str(db_path), str(pickled)],
                          env=env, cwd=PROJECT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 3, done.stderr
    with Store(db_path) as store:
        same_result(store.latest_snapshot(SOURCE), good)
    assert query("SELECT count(*) FROM snapshots") == [(1,)]
    assert query("SELECT count(*) FROM snapshot_people") == [(len(good),)]
