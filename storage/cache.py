"""The embedding cache, keyed by (model id, text hash); vectors are float32 BLOBs.

The cache is pruned with the snapshots: when a build is saved, the vectors of texts that
no kept snapshot and no current document holds (edited, deleted or moved texts) go.
"""

from __future__ import annotations

import sqlite3
from typing import Iterable, Iterator, Mapping

import numpy as np

from pipeline.documents import text_hash
from storage.db import Database
from storage.messages import documents_in
from storage.values import as_key

CHUNK = 500  # SQLite's limit on bound parameters is 999 on old builds


def chunks(items: Iterable[str], size: int = CHUNK) -> Iterator[list[str]]:
    batch: list[str] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def delete_embeddings(conn: sqlite3.Connection, hashes: Iterable[str]) -> int:
    """Delete the vectors of these texts under every model."""
    deleted = 0
    for batch in chunks(hashes):
        marks = ",".join("?" * len(batch))
        deleted += conn.execute(
            f"DELETE FROM embeddings WHERE text_hash IN ({marks})", batch).rowcount
    return deleted


def prune_embeddings(conn: sqlite3.Connection, in_use: Iterable[str] = ()) -> int:
    """Delete the vectors (under every model) of texts that no current document of any
    source and no stored snapshot holds; how many went. `in_use`: hashes known to be
    kept (the snapshot just saved), so that the usual case (nothing else cached) reads
    neither the documents nor the snapshots' texts."""
    others = set(h for (h,) in conn.execute("SELECT DISTINCT text_hash FROM embeddings")) - set(in_use)
    for (source,) in conn.execute("SELECT DISTINCT source FROM messages").fetchall() if others else ():
        others -= {doc.text_hash for doc in documents_in(conn, source)}
    if not others:
        return 0
    kept = {text_hash(text) for (text,) in conn.execute("SELECT DISTINCT text FROM snapshot_people")}
    return delete_embeddings(conn, others - kept)


def _vector_blob(vector) -> bytes:
    array = np.asarray(vector, dtype=np.float32)
    if array.ndim != 1 or array.size == 0:
        raise ValueError(f"an embedding must be a non-empty 1-D vector, got shape {array.shape}")
    return array.tobytes()


class EmbeddingCacheMixin:
    """The pipeline's ``EmbeddingCache`` protocol, stored in SQLite."""

    _db: Database

    def get_embeddings(self, model_id: str, hashes: Iterable[str]) -> dict[str, np.ndarray]:
        """The cached vectors among ``hashes``; misses are simply absent."""
        model_id = as_key(model_id, "model_id")
        found: dict[str, np.ndarray] = {}
        with self._db.transaction(write=False) as conn:
            for batch in chunks(dict.fromkeys(hashes)):
                marks = ",".join("?" * len(batch))
                rows = conn.execute(
                    f"SELECT text_hash, vector FROM embeddings "
                    f"WHERE model_id = ? AND text_hash IN ({marks})", [model_id, *batch])
                found.update((h, np.frombuffer(blob, dtype=np.float32).copy()) for h, blob in rows)
        return found

    def put_embeddings(self, model_id: str, vectors: Mapping[str, np.ndarray]) -> None:
        model_id = as_key(model_id, "model_id")
        rows = [(model_id, as_key(h, "text hash"), _vector_blob(v)) for h, v in vectors.items()]
        with self._db.transaction() as conn:
            conn.executemany(
                "INSERT OR REPLACE INTO embeddings (model_id, text_hash, vector) VALUES (?, ?, ?)",
                rows)

    def prune_embeddings(self) -> int:
        """See `prune_embeddings`; one transaction."""
        with self._db.transaction() as conn:
            return prune_embeddings(conn)

    def embedding_count(self, model_id: str | None = None) -> int:
        """How many vectors are cached (for one model, or all)."""
        with self._db.transaction(write=False) as conn:
            if model_id is None:
                return conn.execute("SELECT count(*) FROM embeddings").fetchone()[0]
            return conn.execute("SELECT count(*) FROM embeddings WHERE model_id = ?",
                                (as_key(model_id, "model_id"),)).fetchone()[0]
