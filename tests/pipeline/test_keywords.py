"""Cluster keywords: distinctive, short, no filler or names, different from cluster to cluster."""

import numpy as np
import pytest

from pipeline.embed import HashingEmbedder
from pipeline.errors import PipelineError
from pipeline.keywords import (
    centroids_of, cluster_keywords, ctfidf_keywords, mmr_keywords, ngrams, representative_sentences, select,
)
from pipeline.params import PipelineParams
from pipeline.result import NOISE
from pipeline.stopwords import STOP_WORDS

FILLER = {"excited", "here", "everyone", "looking", "forward", "batch", "hi", "meeting"}


@pytest.fixture
def grouped(topic_documents):
    """Topic documents, their labels (0, 1, 2 by topic) and the topic vocabularies."""
    docs = topic_documents(per_group=12)
    topics = sorted({d.extra["group"] for d in docs})
    labels = np.array([topics.index(d.extra["group"]) for d in docs])
    return docs, labels


def _vocabulary(docs, label, labels):
    """The words of the topic of cluster ``label`` (what its keywords should be made of)."""
    from conftest import TOPICS

    return set(TOPICS[docs[int(np.flatnonzero(labels == label)[0])].extra["group"]].split())


def _check_keywords(named, docs, labels):
    """Invariants every keyword method must keep."""
    names = {w.lower() for d in docs for w in d.name.split()}
    everything = [k for words in named.values() for k in words]
    assert everything, "no keywords at all"
    assert len(everything) == len(set(everything)), "a keyword names two clusters"
    for label, words in named.items():
        assert words and len(words) == len(set(words))
        for keyword in words:
            parts = keyword.split()
            assert 1 <= len(parts) <= 3
            assert not set(parts) & (STOP_WORDS | names | FILLER), keyword
            assert set(parts) <= _vocabulary(docs, label, labels), keyword


def test_ctfidf_names_each_topic_with_its_own_words(grouped):
    """c-TF-IDF keywords come from each group's vocabulary, without filler, names or repeats."""
    docs, labels = grouped
    named = {label: kw for label, (kw, _) in cluster_keywords(labels, docs, None, PipelineParams()).items()}
    assert set(named) == {0, 1, 2}
    _check_keywords(named, docs, labels)


def test_names_are_removed_even_when_a_whole_group_shares_one(grouped):
    """A surname every member of a group says is the most frequent word, and still not a keyword."""
    docs, labels = grouped
    texts = {int(c): [d.text for d, l in zip(docs, labels) if l == c] for c in np.unique(labels)}
    assert any("kowalski" in kw for kw in ctfidf_keywords(texts, 6).values())
    named = ctfidf_keywords(texts, 6, extra_stop_words={"kowalski", "okafor", "lindqvist"})
    assert not any("kowalski" in k for kw in named.values() for k in kw)


def test_mmr_keywords_come_from_the_topic(grouped):
    """KeyBERT-style keywords (hashing embedder) keep the same invariants."""
    docs, labels = grouped
    embedder = HashingEmbedder()
    named = cluster_keywords(labels, docs, embedder.encode([d.text for d in docs]),
                             PipelineParams(keywords="mmr"), embedder)
    _check_keywords({label: kw for label, (kw, _) in named.items()}, docs, labels)


def test_representative_sentences_say_something(grouped):
    """Sentences mode picks sentences from the cluster's own texts, never a bare greeting."""
    docs, labels = grouped
    embedder = HashingEmbedder()
    named = cluster_keywords(labels, docs, embedder.encode([d.text for d in docs]),
                             PipelineParams(keywords="sentences"), embedder)
    for label, (keywords, sentences) in named.items():
        own = " ".join(d.text for d, l in zip(docs, labels) if l == label)
        assert keywords and 1 <= len(sentences) <= 3
        assert all(s in own and "Looking forward" not in s and not s.startswith("Hi ") for s in sentences)


def test_noise_gets_no_keywords_and_clusters_still_do(grouped):
    """Noise is not a cluster: only real labels are named."""
    docs, labels = grouped
    labels = np.where(labels == 2, NOISE, labels)
    named = cluster_keywords(labels, docs, None, PipelineParams())
    assert set(named) == {0, 1} and all(kw for kw, _ in named.values())


def test_phrases_never_jump_over_stop_words():
    """N-grams are made of adjacent content words only, up to three."""
    grams = ngrams("I love rust and gardening. Distributed database systems, quietly!")
    assert {"rust", "gardening", "distributed database systems"} <= grams
    assert "rust gardening" not in grams and "systems quietly" not in grams
    assert not ngrams("Hi everyone, I'm so excited to be here! Looking forward to meeting you all.")


def test_select_drops_covered_and_plural_repeats():
    """A keyword already covered by a better one (or its plural) is skipped; a longer one replaces."""
    ranked = ["machine", "machine learning", "learning", "rust", "types", "type", "compilers"]
    assert select(ranked, 4) == ["machine learning", "rust", "types", "compilers"]


def test_empty_and_filler_only_texts_do_not_crash():
    """Clusters whose texts have no content words get empty keyword lists."""
    assert ctfidf_keywords({0: ["Hi everyone!"], 1: [""]}, 5) == {0: [], 1: []}
    embedder = HashingEmbedder()
    centroids = centroids_of(np.array([0]), embedder.encode(["hello"]))
    assert mmr_keywords({0: ["Hi!"]}, centroids, embedder) == {0: []}
    assert representative_sentences({0: ["Hi!"]}, centroids, embedder) == {0: []}


def test_unknown_method_is_a_clear_error(grouped):
    """A keyword method that does not exist names the choices."""
    docs, labels = grouped
    with pytest.raises(PipelineError, match="ctfidf, mmr, sentences"):
        cluster_keywords(labels, docs, None, PipelineParams(keywords="lda"))


def test_a_word_every_cluster_uses_does_not_lead_every_name():
    """A term frequent in two clusters is penalised, so each is named by its own words first."""
    texts = {
        0: [f"python {w}" for w in ("kernel", "linker", "kernel", "scheduler", "linker")],
        1: [f"python {w}" for w in ("guitar", "jazz", "choir", "guitar", "jazz")],
    }
    named = ctfidf_keywords(texts, 2)
    assert named[0][0] != "python" and named[1][0] != "python"


def test_contractions_and_intro_filler_are_never_keywords():
    """"following", "you're", "I've been" and vague verbs don't name a cluster; its topic does."""
    texts = {
        0: ["Following the linkers thread, you're all great. I've been writing a toy LLVM backend.",
            "I've been following LLVM closely; you're welcome to pair on linkers.",
            "You're going to see me writing assembly and linkers. I'm following the backend work."],
        1: ["I've been knitting sweaters; you're welcome to join the wool circle.",
            "Following patterns for sweaters and wool, I've been learning to spin."],
    }
    named = ctfidf_keywords(texts, 6)
    words = {w for keywords in named.values() for keyword in keywords for w in keyword.split()}
    assert {"llvm", "linkers"} <= words and {"wool", "sweaters"} <= words
    assert not words & {"following", "you're", "i've", "been", "writing", "toy", "i'm"}


# ---- names as a batch would read them (issue 12) -------------------------------------
TUNED_BATCHES = ("spring", "summer", "autumn", "winter")  # benchmarks/data; never the held-out one


def _people(batch: str):
    """The people of the demo or of a tuned fictional batch, and their intended groups as labels."""
    from pathlib import Path

    from pipeline.csv_import import read_csv
    from pipeline.demo import load_demo

    folder = Path(__file__).parents[2] / "benchmarks" / "data"
    docs = load_demo() if batch == "demo" else read_csv(folder / f"{batch}.csv")
    groups = sorted({d.extra["group"] for d in docs} - {"none"})
    return docs, np.array([groups.index(d.extra["group"]) if d.extra["group"] in groups else NOISE for d in docs])


def _writers(keyword: str, texts) -> int:
    """How many of ``texts`` hold ``keyword`` word for word, any of its words in the singular or plural."""
    from itertools import product

    from benchmarks.metrics import word_runs, written

    forms = product(*({w, w + "s", w[:-1] if w.endswith("s") else w} for w in keyword.split()))
    variants = [" ".join(f) for f in forms]
    return sum(any(written(v, word_runs(t)) for v in variants) for t in texts)


@pytest.mark.parametrize("batch", ["demo", *TUNED_BATCHES])
def test_keywords_are_whole_phrases_that_members_share(batch):
    """On the intended groups: no keyword inside another, none a fragment of a phrase the
    members wrote, each written by two members (a third of a group of three), and the name
    (the first keyword) written word for word by a member and not a lone generic word."""
    from benchmarks.metrics import fragment_of_written, is_fragment, word_runs, written
    from pipeline.stopwords import GENERIC_WORDS

    docs, labels = _people(batch)
    named = cluster_keywords(labels, docs, None, PipelineParams())
    for label, (words, _) in named.items():
        texts = [d.text for d, l in zip(docs, labels) if l == label]
        assert words, f"group {label} unnamed"
        assert written(words[0], [r for t in texts for r in word_runs(t)]), words[0]
        assert words[0] not in GENERIC_WORDS or all(w in GENERIC_WORDS for w in words), words
        for keyword in words:
            assert not is_fragment(keyword, words), (keyword, words)
            assert not fragment_of_written(keyword, texts), (keyword, words)
            assert _writers(keyword, texts) >= min(2, -(-len(texts) // 3)), (keyword, words)


def test_a_term_and_its_plural_are_one_keyword_and_a_phrase_stands_for_its_part():
    """"scheduler" and "schedulers" are one term of three writers, shown as most wrote it;
    "operating systems" is shown instead of "operating", which three wrote, two in it."""
    from pipeline.keywords import class_term_counts, row_of

    texts = {0: ["I want to write an operating system with a scheduler.", "Operating systems and schedulers!",
                 "Operating systems, kernels and schedulers."],
             1: ["Sourdough bread and baking.", "Baking sourdough bread.", "I bake bread."]}
    _, terms, counts = class_term_counts(texts)
    assert row_of(counts, 0)[list(terms).index("schedulers")] == 3 and "scheduler" not in list(terms)
    named = ctfidf_keywords(texts, 6)
    assert "operating systems" in named[0] and "schedulers" in named[0]
    assert not {"operating", "kernels", "scheduler"} & set(named[0])
    assert named[1][0] in ("sourdough bread", "bread")


def test_a_generic_word_does_not_name_a_group_with_a_more_specific_keyword():
    """"app" everyone says comes after a keyword that says which kind."""
    texts = {0: ["A mobile app with Kotlin.", "My app in Kotlin for Android.", "An Android app.", "Some app."],
             1: ["Jazz piano.", "Jazz drums.", "Piano lessons."]}
    named = ctfidf_keywords(texts, 6)
    assert named[0][0] != "app" and "app" in named[0]


def test_a_dropped_word_cuts_a_phrase():
    """"RISC-V CPU": the single letter is dropped and the phrase cut, so no "risc cpu" nobody wrote."""
    assert "risc cpu" not in ngrams("Designing a RISC-V CPU on an FPGA")
    assert {"risc", "cpu", "fpga"} <= ngrams("Designing a RISC-V CPU on an FPGA")


def test_little_words_of_other_languages_are_not_keywords():
    """Two Spanish speakers share "para", "que" and "con": none of them names their group."""
    texts = {0: ["Quiero aprender robótica para construir robots con Arduino que caminan.",
                 "Me gusta la robótica y quiero usar Arduino para mis robots, con sensores que miden."],
             1: ["Knitting and wool.", "Wool knitting patterns."]}
    words = set(ctfidf_keywords(texts, 6)[0])
    assert "arduino" in words and not words & {"para", "que", "con", "quiero", "aprender"}


def test_sparse_scores_are_the_dense_formulas_entry_for_entry():
    """c-TF-IDF and the distinctiveness penalty on the sparse counts (kept sparse: dense,
    20,000 people took 0.9 GB) give each stored entry exactly the dense formulas' value;
    a term only one group uses keeps its whole score (the best of the others is 0)."""
    from scipy import sparse

    from pipeline.keywords import CROSS_CLUSTER_PENALTY, ctfidf, distinctive

    rng = np.random.default_rng(5)
    dense = rng.integers(0, 4, size=(7, 40)) * (rng.random((7, 40)) < 0.3)
    dense[:, 0], dense[3, 0] = 0, 2  # a term of one group only
    dense = dense[:, dense.sum(axis=0) > 0].astype(float)
    scores = ctfidf(sparse.csr_matrix(dense))
    tf = dense / np.maximum(dense.sum(axis=1, keepdims=True), 1)
    expected = tf * np.log1p(dense.sum() / len(dense) / np.maximum(dense.sum(axis=0), 1))
    assert np.array_equal(scores.toarray(), expected)
    ordered = np.sort(expected, axis=0)
    other_best = np.where(expected >= ordered[-1], ordered[-2], ordered[-1])
    penalised = distinctive(scores)
    stored = dense > 0
    assert np.array_equal(penalised.toarray()[stored], (expected - CROSS_CLUSTER_PENALTY * other_best)[stored])
    assert penalised[3, 0] == scores[3, 0] > 0


def test_words_that_name_no_topic_are_never_a_keyword_alone():
    """"future", "steps", "faster" shared by every member are not keywords; inside a phrase
    ("test cases") such a word stays."""
    texts = {0: ["The future of compilers: test cases, next steps. Faster!",
                 "Compilers in the future, with test cases. Faster builds, next steps.",
                 "Compilers: next steps and the future. Test cases, faster"],
             1: ["Gardening and tomatoes.", "Gardening with tomatoes.", "Tomatoes, gardening."]}
    named = ctfidf_keywords(texts, top_n=6)
    assert "compilers" in named[0] and "test cases" in named[0], named
    assert not {"future", "next steps", "steps", "faster"} & set(named[0]), named
