"""Fixtures of the storage tests: a real SQLite file in tmp_path and a tiny MapResult."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

from pipeline.documents import Document
from pipeline.result import NOISE, Cluster, MapResult, Neighbour
from storage import Store


def build_result(n: int = 4, dim: int = 8, seed: int = 0, dims: int = 2,
                 model: str = "test-model") -> MapResult:
    """A small, hand-made MapResult: two clusters and noise, real numpy arrays."""
    rng = np.random.default_rng(seed)
    vectors = rng.normal(size=(n, dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    labels = np.array([(i % 3) + 1 if i % 3 < 2 else NOISE for i in range(n)], dtype=np.int64)
    people = [Document(f"u{seed}-{i}", f"<b>Person {i}</b> ünï", f"text {i} seed {seed}",
                       f"**raw** {i}", {"group": f"g{i % 2}", "rank": i}) for i in range(n)]
    clusters = {number: Cluster(number, [int(i) for i in np.flatnonzero(labels == number)],
                                [f"kw{number}", "music"], [f"sentence {number}"])
                for number in (1, 2) if np.any(labels == number)}
    neighbours = [[Neighbour((i + 1) % n, float(vectors[i] @ vectors[(i + 1) % n]), ["music"])]
                  for i in range(n)] if n > 1 else [[] for _ in range(n)]
    return MapResult(
        people=people, embeddings=vectors, coords=rng.normal(size=(n, dims)),
        labels=labels, clusters=clusters, neighbours=neighbours, model=model,
        params={"components": dims, "min_cluster_size": None, "random_state": seed},
        built_at=datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc) + timedelta(hours=seed),
        notice="few people" if n < 3 else None,
    )


def assert_same_result(got: MapResult, want: MapResult) -> None:
    """Every part of a MapResult survived the round trip exactly."""
    assert got.people == want.people
    assert [doc.extra for doc in got.people] == [doc.extra for doc in want.people]
    for name in ("embeddings", "coords", "labels"):
        got_array, want_array = getattr(got, name), getattr(want, name)
        assert got_array.dtype == want_array.dtype, name
        assert got_array.shape == want_array.shape, name
        assert np.array_equal(got_array, want_array), name
    assert got.clusters == want.clusters
    assert got.neighbours == want.neighbours
    assert (got.model, got.params, got.built_at, got.notice) == \
        (want.model, want.params, want.built_at, want.notice)


@pytest.fixture
def db_path(tmp_path):
    return tmp_path / "data" / "batchviz.db"


@pytest.fixture
def store(db_path):
    with Store(db_path) as opened:
        yield opened


@pytest.fixture
def query(db_path):
    """Run SQL on the database file through a separate connection (the proof on disk)."""
    def run(sql: str, args: tuple = ()) -> list[tuple]:
        conn = sqlite3.connect(db_path)
        try:
            return conn.execute(sql, args).fetchall()
        finally:
            conn.close()
    return run


@pytest.fixture
def make_result():
    return build_result


@pytest.fixture
def same_result():
    return assert_same_result
