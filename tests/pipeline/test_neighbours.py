"""nearest: everyone's closest people in embedding space, with the words they share."""

import numpy as np
import pytest

from pipeline.embed import HashingEmbedder
from pipeline.neighbours import (CANDIDATES, MAX_DF, MIN_DOCS_FOR_DF, PICK_ROWS, nearest, nearest_to,
                                 neighbour_overlap, normalised, rank, shared_words, top_k)
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


def test_chosen_by_rank_listed_by_plain_cosine(result):
    """Each list holds ``rank``'s choice, shows the plain cosine, and reads highest first."""
    x = HashingEmbedder().encode(TEXTS)
    unit = x / np.linalg.norm(x, axis=1, keepdims=True)
    index, _ = rank(x, 3)
    for i, row in enumerate(result):
        assert {nb.index for nb in row} == set(index[i])
        shown = [nb.similarity for nb in row]
        assert shown == pytest.approx([unit[i] @ unit[nb.index] for nb in row], abs=1e-5)
        assert shown == sorted(shown, reverse=True)


def hub_and_groups(groups=3, size=3, within=0.3):
    """Person 0 is a hub at cosine 0.5 to everyone; groups of ``size`` are at 0.475 inside, 0.25 across."""
    gram = np.full((size, size), within) + (1 - within) * np.eye(size)
    x = np.zeros((1 + groups * size, 1 + groups * size))
    x[0, 0] = 1
    for g in range(groups):
        rows, cols = slice(1 + g * size, 1 + (g + 1) * size), slice(1 + g * size, 1 + (g + 1) * size)
        x[rows, 0], x[rows, cols] = 0.5, np.sqrt(0.75) * np.linalg.cholesky(gram)
    return x.astype(np.float32)


def test_a_hub_close_to_everyone_is_demoted():
    """Cosine puts the hub first for everyone; the re-ranking puts each person's own group first."""
    x = hub_and_groups()
    members = np.arange(1, len(x))
    cosine_first = top_k(x, 1)[0][members, 0]
    assert (cosine_first == 0).all()
    index, similarity = rank(x, 2)
    group = (members - 1) // 3
    mates = [set(members[group == g]) - {i} for i, g in zip(members, group)]
    assert [set(index[i]) for i in members] == mates
    assert similarity[members] == pytest.approx(np.full((len(members), 2), 0.475), abs=1e-5)


def test_rank_is_the_same_in_any_block_size():
    """Block-wise re-ranking gives the same order as one block (picked ``PICK_ROWS`` rows at
    a time), and never includes oneself."""
    x = random_unit(300)
    one, small = rank(x, 6), rank(x, 6, block=7)
    assert 300 > PICK_ROWS
    assert np.array_equal(one[0], small[0]) and np.allclose(one[1], small[1])
    assert not (one[0] == np.arange(300)[:, None]).any()


def test_neighbour_overlap_is_jaccard_of_neighbourhoods():
    """The overlap of two rows is |A∩B| / |A∪B| of their sets (self and k nearest), by hand."""
    line = np.array([[1, 0], [0.99, 0.14], [0.96, 0.28], [0, 1], [0.14, 0.99]], dtype=np.float32)
    line /= np.linalg.norm(line, axis=1, keepdims=True)
    overlap = neighbour_overlap(line, 1).toarray()  # sets {0,1} {1,0} {2,1} {3,4} {4,3}
    assert overlap[0, 1] == pytest.approx(1.0) and overlap[0, 2] == pytest.approx(1 / 3)
    assert overlap[0, 3] == 0 and overlap[3, 4] == pytest.approx(1.0)


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


def realistic_texts():
    """Every introduction of the demo and the benchmark batches, some of them twice (with a
    sentence of another added), as a mixed real-looking batch of a few hundred people."""
    import csv
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    files = [root / "pipeline" / "demo_data" / "introductions.csv",
             *sorted((root / "benchmarks" / "data").glob("*.csv"))]
    texts = [row["text"] for path in files for row in csv.DictReader(path.open(encoding="utf-8"))]
    return texts + [f"{a} {b.split('. ')[0]}." for a, b in zip(texts[::3], texts[1::3])]


def reference_pair_words(texts, shared):
    """The shared words of a pair (i, j), computed the plain way: the TF-IDF of every text
    over the batch, the products of the pair's weights, best first (ties alphabetically),
    the best ``CANDIDATES × shared`` given to ``select``, each shown as text i first wrote it."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    from pipeline.keywords import phrases, select, term_key

    def written(text):
        runs = phrases(text)
        return [w for run in runs for w in run] + [f"{a} {b}" for run in runs for a, b in zip(run, run[1:])]

    max_df = MAX_DF if len(texts) >= MIN_DOCS_FOR_DF else 1.0
    vectorizer = TfidfVectorizer(analyzer=lambda t: [term_key(w) for w in written(t)], sublinear_tf=True,
                                 max_df=max_df).fit(texts)
    vocabulary = vectorizer.get_feature_names_out()

    def words(i, j):
        a, b = vectorizer.transform([texts[i], texts[j]]).toarray()
        both = [(-(a[c] * b[c]), str(vocabulary[c])) for c in np.flatnonzero(a * b)]
        keys = select([term for _, term in sorted(both)[:CANDIDATES * shared]], shared)
        forms = {}
        for term in written(texts[i]):
            forms.setdefault(term_key(term), term)
        return [forms[key] for key in keys]
    return words


def test_shared_words_equal_the_plain_computation_on_real_introductions(monkeypatch):
    """On a few hundred real-looking introductions, every pair's words are those of the
    plain per-pair computation, in the same order (the fast path changes no word), also
    across the edges of the blocks of pairs weighed at once."""
    monkeypatch.setattr("pipeline.neighbours.PAIR_BLOCK", 97)
    texts = realistic_texts()
    x = HashingEmbedder().encode(texts)
    rows = nearest(x, texts, k=4, shared=3)
    reference, with_words = reference_pair_words(texts, 3), 0
    for i in range(0, len(texts), 3):
        for nb in rows[i]:
            assert nb.shared_words == reference(i, nb.index), (i, nb.index)
            with_words += bool(nb.shared_words)
    assert with_words > 50


@pytest.mark.parametrize("turned_away", [0, 5, 60, 299])
def test_one_persons_nearest_sort_only_the_best_yet_match_a_full_sort(turned_away):
    """``nearest_to`` sorts only the best few (more when ``keep`` turns many away), yet
    gives exactly a full sort's order: most similar first, ties to the lower index (the
    rows come in runs of equal vectors, so ties sit at every cut)."""
    rng = np.random.default_rng(4)
    unit = normalised(np.repeat(rng.normal(size=(100, 16)), 3, axis=0))  # 300 rows, each vector 3 times
    texts = [f"text {i}" for i in range(len(unit))]
    similarity = unit @ unit[7]
    full = [int(j) for j in np.lexsort((np.arange(len(unit)), -similarity)) if j != 7]
    away = set(full[:turned_away])
    found = nearest_to(unit, texts, 7, k=12, keep=lambda j: j not in away)
    expected = [j for j in full if j not in away][:12]
    assert [n.index for n in found] == expected
    assert [n.similarity for n in found] == [float(similarity[j]) for j in expected]
