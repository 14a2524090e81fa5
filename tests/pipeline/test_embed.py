"""Embeddings: the real bundled model, the hashing embedder, and the cache."""

import threading

import numpy as np
import pytest

from pipeline.documents import Document
from pipeline.embed import (
    HashingEmbedder,
    MemoryCache,
    SentenceTransformerEmbedder,
    embed_documents,
    embed_documents_report,
    encode_in_batches,
    load_embedder,
    token_batches,
)
from pipeline.errors import ModelLoadError

SENTENCES = [
    "I write compilers and love programming language design.",
    "Type systems and parsers for new programming languages fascinate me.",
    "I bake sourdough bread and grow tomatoes in my garden.",
]


def docs(*texts):
    """Documents with the given texts, one person each."""
    return [Document(f"p{i}", f"Person {i}", t) for i, t in enumerate(texts)]


def unit_rows(matrix):
    """True when every row has length 1."""
    return np.allclose(np.linalg.norm(matrix, axis=1), 1.0, atol=1e-5)


@pytest.mark.model
def test_bundled_model_shape_dtype_and_norm(real_embedder):
    """The bundled model gives 384-d float32 unit vectors, keyed as all-MiniLM-L6-v2."""
    vectors = real_embedder.encode(SENTENCES)
    assert vectors.shape == (3, 384) and vectors.dtype == np.float32 and unit_rows(vectors)
    assert real_embedder.model_id == "all-MiniLM-L6-v2"


@pytest.mark.model
def test_similar_sentences_are_closer(real_embedder):
    """Two sentences about programming languages are closer than either is to baking."""
    a, b, c = real_embedder.encode(SENTENCES)
    assert a @ b > a @ c + 0.2 and a @ b > b @ c + 0.2


@pytest.mark.model
def test_empty_input_has_the_model_width(real_embedder):
    """Encoding nothing gives a (0, 384) float32 array."""
    empty = real_embedder.encode([])
    assert empty.shape == (0, 384) and empty.dtype == np.float32


@pytest.mark.model
def test_prefix_changes_model_id_and_vectors(real_embedder):
    """A document prefix is part of the cache key and changes the vector; the model is loaded once."""
    prefixed = SentenceTransformerEmbedder(prefix="clustering: ")
    assert prefixed.model_id == "all-MiniLM-L6-v2|clustering: "
    assert prefixed.load() is real_embedder.load()
    plain, with_prefix = real_embedder.encode(SENTENCES[:1]), prefixed.encode(SENTENCES[:1])
    assert not np.allclose(plain, with_prefix)
    assert np.allclose(with_prefix, real_embedder.encode(["clustering: " + SENTENCES[0]]), atol=1e-5)


@pytest.mark.model
def test_max_tokens_cuts_long_texts_and_keys_the_cache(real_embedder):
    """With max_tokens=16 two texts that differ only after their first ~30 words get the same
    vector; the whole texts do not. The cut is part of the cache key."""
    start = " ".join(["rust compilers and borrow checkers"] * 6)
    texts = [start + " and also gardening", start + " and sourdough bread baking on weekends"]
    short = SentenceTransformerEmbedder(max_tokens=16)
    assert short.model_id == "all-MiniLM-L6-v2|max16" and real_embedder.model_id == "all-MiniLM-L6-v2"
    cut = short.encode(texts)
    assert np.allclose(cut[0], cut[1], atol=1e-5)
    assert not np.allclose(*real_embedder.encode(texts), atol=1e-3)


def test_max_tokens_setting_reaches_the_embedder(tmp_path):
    """embedding_max_tokens in the zuliprc is the embedder's cut; empty is the model's own."""
    from bot.settings import load_settings

    path = tmp_path / "zuliprc"
    path.write_text("[batchviz]\nembedding_max_tokens = 128\n", encoding="utf-8")
    assert load_settings(path).embedder().max_tokens == 128
    path.write_text("[batchviz]\nembedding_max_tokens =\n", encoding="utf-8")
    assert load_settings(path).embedder().max_tokens is None


@pytest.mark.model
def test_cache_encodes_only_new_and_edited_texts(real_embedder):
    """A second run encodes nothing; editing one text encodes just that one, with the same vectors elsewhere."""
    cache = MemoryCache()
    first, stats = embed_documents_report(docs(*SENTENCES), real_embedder, cache)
    assert (stats.cached, stats.encoded) == (0, 3)
    again, stats = embed_documents_report(docs(*SENTENCES), real_embedder, cache)
    assert (stats.cached, stats.encoded) == (3, 0) and np.allclose(again, first)
    edited, stats = embed_documents_report(docs(SENTENCES[0], SENTENCES[1], "I climb mountains."), real_embedder, cache)
    assert (stats.cached, stats.encoded) == (2, 1)
    assert np.allclose(edited[:2], first[:2]) and not np.allclose(edited[2], first[2])


@pytest.mark.model
def test_bundled_hub_name_maps_to_the_bundled_model(real_embedder):
    """Configuring the bundled model by its hub name loads the installed copy, not a download."""
    named = load_embedder("sentence-transformers/all-MiniLM-L6-v2")
    assert named.model_id == real_embedder.model_id and named.load() is real_embedder.load()


def test_unloadable_model_names_the_setting(tmp_path):
    """A model path that does not exist raises ModelLoadError naming embedding_model and the value."""
    missing = str(tmp_path / "no-such-model")
    embedder = load_embedder(missing)
    assert embedder.model_id == missing
    with pytest.raises(ModelLoadError) as caught:
        embedder.encode(["hello"])
    assert "embedding_model" in str(caught.value) and missing in str(caught.value)


def test_hashing_embedder_is_deterministic_and_normalised():
    """The hashing embedder gives the same unit vectors every time, even for empty text."""
    embedder = load_embedder("hashing", dim=64)
    vectors = embedder.encode(SENTENCES + [""])
    assert vectors.shape == (4, 64) and vectors.dtype == np.float32 and unit_rows(vectors)
    assert np.array_equal(vectors, HashingEmbedder(dim=64).encode(SENTENCES + [""]))
    assert embedder.model_id == "hashing-64" and HashingEmbedder().encode([]).shape == (0, 256)


def test_identical_texts_are_encoded_once():
    """Two people with the same text share one encoding and get the same vector."""
    matrix, stats = embed_documents_report(docs("pottery glazes", "rust compilers", "pottery glazes"), HashingEmbedder())
    assert (stats.total, stats.unique, stats.encoded) == (3, 2, 2)
    assert np.array_equal(matrix[0], matrix[2]) and not np.array_equal(matrix[0], matrix[1])


def test_cache_is_keyed_by_model():
    """Vectors cached for one model are not used for another."""
    cache = MemoryCache()
    embed_documents(docs("a text"), HashingEmbedder(dim=32), cache)
    _, stats = embed_documents_report(docs("a text"), HashingEmbedder(dim=64), cache)
    assert stats.encoded == 1


def test_no_documents_give_an_empty_matrix():
    """Embedding no documents gives a (0, dim) matrix and encodes nothing."""
    matrix, stats = embed_documents_report([], HashingEmbedder(dim=16), MemoryCache())
    assert matrix.shape == (0, 16) and stats.encoded == 0


def test_fully_cached_documents_do_not_load_the_model(tmp_path):
    """When every text is cached the model is never loaded: an unloadable model still gives the vectors."""
    cache, unloadable = MemoryCache(), load_embedder(str(tmp_path / "no-such-model"))
    cached = HashingEmbedder(dim=8).encode(SENTENCES)
    cache.put_embeddings(unloadable.model_id, {d.text_hash: v for d, v in zip(docs(*SENTENCES), cached)})
    matrix, stats = embed_documents_report(docs(*SENTENCES), unloadable, cache)
    assert (stats.cached, stats.encoded) == (3, 0) and np.array_equal(matrix, cached)
    with pytest.raises(ModelLoadError):  # one new text does need the model
        embed_documents(docs(*SENTENCES, "I climb mountains."), unloadable, cache)


class SignallingEmbedder(HashingEmbedder):
    """Hashing vectors; says when its encoding has started."""

    def __init__(self):
        super().__init__(dim=8)
        self.encoding = threading.Event()

    def encode(self, texts):
        self.encoding.set()
        return super().encode(texts)


def test_start_up_work_runs_while_the_texts_are_encoded():
    """``before_encoding`` (a cold build's imports) overlaps the encoding instead of
    delaying it: it sees the encoding start, and the call waits for it to finish."""
    embedder, seen = SignallingEmbedder(), []

    def start_up_work():
        seen.append(embedder.encoding.wait(timeout=30))

    matrix = embed_documents(docs(*SENTENCES), embedder, before_encoding=start_up_work)
    assert seen == [True] and matrix.shape == (3, 8)


def test_a_failed_start_up_step_is_raised_after_the_encoding_and_skipped_when_all_is_cached():
    """An error of ``before_encoding`` reaches the caller (the vectors are cached first:
    nothing encoded is lost); with every text cached it does not run at all."""
    cache, embedder = MemoryCache(), SignallingEmbedder()

    def broken():
        raise ImportError("no module named umap")

    with pytest.raises(ImportError, match="umap"):
        embed_documents(docs(*SENTENCES), embedder, cache, before_encoding=broken)
    assert embedder.encoding.is_set() and len(cache.vectors) == 3
    assert embed_documents(docs(*SENTENCES), embedder, cache, before_encoding=broken).shape == (3, 8)


def test_batches_hold_a_budget_of_word_pieces_longest_first():
    """Texts are batched by word pieces (longest × count within the budget), longest
    first; each text once; a text longer than the budget goes alone."""
    lengths = [10, 300, 40, 40, 5, 120, 40]
    batches = token_batches(lengths, budget=128)
    assert sorted(np.concatenate(batches).tolist()) == list(range(len(lengths)))
    assert [b.tolist() for b in batches] == [[1], [5], [2, 3, 6], [0, 4]]
    assert all(len(b) * max(lengths[i] for i in b) <= 128 for b in batches[1:])
    assert token_batches([], budget=128) == []


class RecordingEncoder:
    """Vectors that name their text (its length in the first column); records each batch."""

    dim = 2

    def __init__(self):
        self.batches = []

    def lengths(self, texts):
        return [len(t) for t in texts]

    def encode_batch(self, texts):
        self.batches.append(list(texts))
        return np.array([[len(t), 1.0] for t in texts], dtype=np.float32)


def test_encoding_in_batches_keeps_each_vector_with_its_text():
    """Batched longest first, the vectors still come back in the order of the texts."""
    texts = ["a" * n for n in (3, 9, 1, 9, 4, 7)]
    encoder = RecordingEncoder()
    vectors = encode_in_batches(encoder, texts, budget=18)
    assert vectors[:, 0].tolist() == [3, 9, 1, 9, 4, 7]
    assert [[len(t) for t in b] for b in encoder.batches] == [[9, 9], [7, 4], [3, 1]]


@pytest.mark.model
def test_batching_does_not_change_the_vectors(real_embedder):
    """The bundled model gives the same vectors whether each text is encoded alone or
    all in one padded batch (texts of very different lengths)."""
    texts = SENTENCES + ["Hi.", " ".join(SENTENCES * 12)]
    alone = SentenceTransformerEmbedder(batch_tokens=1).encode(texts)
    together = SentenceTransformerEmbedder(batch_tokens=10**6).encode(texts)
    assert np.min(np.sum(alone * together, axis=1)) >= 0.9999
    assert np.min(np.sum(alone * real_embedder.encode(texts), axis=1)) >= 0.9999
