"""nearest: everyone's closest people in embedding space, with the words they share."""

import numpy as np
import pytest

from pipeline.embed import HashingEmbedder
from pipeline.neighbours import MAX_DF, MIN_DOCS_FOR_DF, nearest, shared_words, top_k
from pipeline.stopwords import STOP_WORDS, tokens

TEXTS = [
    "Hi everyone! I'm excited to join. I love rust compilers and parsers.",
    "Hello, I'm really interested in rust and compilers, also parsers.",
    "I knit sweaters and spin wool; knitting patterns are my thing.",
    "Wool, knitting and sweaters: I'm looking forward to pairing.",
    "Pottery and glazes. Also rust (the oxide, on my kiln).",
]


@pytest.fixture(scope="module")
def result():
    """The neighbours of TEXTS under the hashing embedder."""
    return nearest(HashingEmbedder().encode(TEXTS), TEXTS, k=3)


def random_unit(n, d=8, seed=0):
    """n random unit vectors."""
    x = np.random.default_rng(seed).normal(size=(n, d)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_self_is_never_a_neighbour(result):
    """Nobody is their own neighbour, and neighbours are distinct."""
    for i, row in enumerate(result):
        indices = [nb.index for nb in row]
        assert i not in indices and len(set(indices)) == len(indices) == 3


def test_sorted_by_similarity(result):
    """Each list is most similar first."""
    for row in result:
        sims = [nb.similarity for nb in row]
        assert sims == sorted(sims, reverse=True)


def test_matches_brute_force():
    """The block-wise top-k equals a full sort of the similarity matrix, even across blocks."""
    x = random_unit(50)
    index, sims = top_k(x, 4, block=7)
    full = x @ x.T
    np.fill_diagonal(full, -np.inf)
    expected = np.argsort(-full, axis=1, kind="stable")[:, :4]
    assert np.array_equal(index, expected)
    assert np.allclose(sims, np.take_along_axis(full, expected, axis=1))


def test_closest_topic_is_first(result):
    """The two rust-compiler people and the two knitters are each other's first neighbour."""
    assert [row[0].index for row in result[:4]] == [1, 0, 3, 2]


def test_shared_words_are_shared_and_meaningful(result):
    """Shared words occur in both texts, are not stop words, and at most three are given."""
    for i, row in enumerate(result):
        for nb in row:
            assert len(nb.shared_words) <= 3
            for word in nb.shared_words:
                for part in word.split():
                    assert part in tokens(TEXTS[i]) and part in tokens(TEXTS[nb.index]) and part not in STOP_WORDS
    assert set(result[0][0].shared_words) == {"rust", "compilers", "parsers"}


def test_rarer_shared_word_ranks_first():
    """Of two shared words, the one fewer people use explains the match better."""
    texts = ["rust, haskell", "rust, haskell", "rust", "rust"]
    row = nearest(HashingEmbedder().encode(texts), texts, k=1, shared=2)[0]
    assert row[0].shared_words == ["haskell", "rust"]


@pytest.mark.parametrize("n, k, expected", [(0, 5, 0), (1, 5, 0), (2, 5, 1), (4, 10, 3), (4, 2, 2), (4, 0, 0)])
def test_k_is_clipped(n, k, expected):
    """k is clipped to n - 1: small groups work and nobody gets padding."""
    result = nearest(random_unit(n), ["word"] * n, k=k)
    assert len(result) == n and all(len(row) == expected for row in result)


def test_texts_without_meaningful_words_share_nothing():
    """When every word is a stop word there are neighbours but no shared words."""
    texts = ["hi everyone", "hello everyone", "hey all"]
    result = nearest(random_unit(3), texts, k=2)
    assert all(len(row) == 2 and all(nb.shared_words == [] for nb in row) for row in result)


def test_mismatched_texts_are_rejected():
    """A text list of the wrong length is a programming error, reported as such."""
    with pytest.raises(ValueError, match="2 texts for 3 embeddings"):
        nearest(random_unit(3), ["a", "b"])


def test_tokens_drop_filler_and_keep_languages():
    """The tokenizer lowercases, drops introduction filler and keeps names like c++ and c#."""
    assert tokens("Hi everyone, I'm excited to learn C++ and C# at Recurse! 2024") == ["c++", "c#"]


GENERIC = {"write", "writing", "small", "toy", "tiny", "reading", "fun", "system", "lately", "started"}


def test_shared_words_explain_the_match_without_generic_words():
    """Two people's topical words and phrases are shown; vague intro words and covered words are not."""
    texts = [
        "I like to write small toy programs. Lately I've been reading about machine learning "
        "and writing a tiny game engine in Rust; my system is fun.",
        "Recently I started reading up on machine learning, and I write small tools, "
        "a toy game engine and a tiny system for fun in Rust.",
        "I knit sweaters and write poems; reading novels is fun.",
    ]
    words = shared_words(texts, np.array([[1]]), shared=5)[0][0]
    assert {"machine learning", "game engine", "rust"} <= set(words)
    assert not set(words) & GENERIC
    assert not {"machine", "learning", "game", "engine"} & set(words)  # a phrase replaces its words


def test_words_most_people_use_do_not_explain_a_match():
    """In a big enough batch, a word more than MAX_DF of the people use is never a shared word."""
    n = max(MIN_DOCS_FOR_DF, 16)
    topics = [f"topic{j // 2}x" for j in range(n)]  # people 2j and 2j+1 share one rare word
    texts = [f"python; {topic}" for topic in topics]
    assert 1 / n < MAX_DF < 1
    pairs = np.array([[j ^ 1] for j in range(n)])
    words = shared_words(texts, pairs, shared=3)
    assert all(row[0] == [topics[j]] for j, row in enumerate(words))


def test_singular_and_plural_are_one_shared_word_shown_as_written():
    """"kernel" and "kernels" are shared, shown as each asker wrote it."""
    texts = ["I write an operating system kernel in rust.", "Kernels and rust, please."]
    words = shared_words(texts, np.array([[1], [0]]), shared=3)
    assert words[0][0] == ["kernel", "rust"] and words[1][0] == ["kernels", "rust"]
