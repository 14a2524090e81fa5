"""The embedding cache: (model, text hash) → float32 vector."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.documents import text_hash


def test_miss_then_hit_returns_the_same_float32_vector(store):
    """A stored vector comes back equal, float32, writable; other keys miss."""
    h = text_hash("I like chess")
    assert store.get_embeddings("m", [h]) == {}
    store.put_embeddings("m", {h: np.array([0.5, -0.25, 1e-7], dtype=np.float64)})
    got = store.get_embeddings("m", [h, text_hash("other")])
    assert list(got) == [h]
    assert got[h].dtype == np.float32 and got[h].flags.writeable
    assert np.array_equal(got[h], np.array([0.5, -0.25, 1e-7], dtype=np.float32))


def test_models_do_not_share_vectors(store):
    """The same text under another model is a miss."""
    h = text_hash("hello")
    store.put_embeddings("model-a", {h: np.ones(4, dtype=np.float32)})
    assert store.get_embeddings("model-b", [h]) == {}
    assert store.embedding_count("model-a") == 1 and store.embedding_count() == 1


def test_put_replaces_an_existing_vector(store):
    """Writing a key again keeps only the newest vector."""
    h = text_hash("hello")
    store.put_embeddings("m", {h: np.zeros(3, dtype=np.float32)})
    store.put_embeddings("m", {h: np.ones(3, dtype=np.float32)})
    assert np.array_equal(store.get_embeddings("m", [h])[h], np.ones(3, dtype=np.float32))
    assert store.embedding_count("m") == 1


def test_thousands_of_keys_in_one_call(store):
    """5,000 vectors go in and come out in one call each (IN clauses are chunked)."""
    rng = np.random.default_rng(0)
    vectors = {text_hash(f"text {i}"): rng.normal(size=32).astype(np.float32) for i in range(5000)}
    store.put_embeddings("m", vectors)
    wanted = list(vectors) + [text_hash(f"missing {i}") for i in range(10)] + list(vectors)[:5]
    got = store.get_embeddings("m", wanted)
    assert set(got) == set(vectors)
    assert all(np.array_equal(got[h], v) for h, v in vectors.items())


@pytest.mark.parametrize("bad", [np.zeros((2, 2)), np.zeros(0)])
def test_a_vector_that_is_not_1d_is_refused(store, bad):
    """A matrix or an empty vector is a clear error and nothing is written."""
    with pytest.raises(ValueError, match="1-D"):
        store.put_embeddings("m", {text_hash("x"): bad})
    assert store.embedding_count() == 0


def test_store_is_the_pipelines_embedding_cache(store):
    """A refresh through embed_documents encodes only the texts that are new or edited."""
    from pipeline.embed import HashingEmbedder, embed_documents_report

    for i in range(3):
        store.upsert_message("welcome", i + 1, f"u{i}", "", f"I like topic {i}", 100 + i)
    embedder = HashingEmbedder()
    first, stats = embed_documents_report(store.documents("welcome"), embedder, store)
    assert (stats.cached, stats.encoded) == (0, 3)
    store.upsert_message("welcome", 2, "u1", "", "I like something else now", 101)
    again, stats = embed_documents_report(store.documents("welcome"), embedder, store)
    assert (stats.cached, stats.encoded) == (2, 1)
    assert np.array_equal(again[[0, 2]], first[[0, 2]])
