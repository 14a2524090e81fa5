"""Everyone's nearest people in the full embedding space, with the words they share.

Similarity is the cosine of the (L2-normalised) embeddings, computed block by block so
memory stays at ``block × n`` whatever the number of people. The shared words of a pair
are the words and two-word phrases ("machine learning") both texts use, ranked by the
product of their TF-IDF weights in the two texts (IDF over everyone), so rare words both
people care about come first. Singular and plural count as one ("kernel", "kernels"),
shown as the first person wrote it. A phrase takes the place of its own words ("game
engine", not also "engine"). In a batch of ``MIN_DOCS_FOR_DF`` or more, a term more than
``MAX_DF`` of the people use is too common to explain a match and is left out.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer

from pipeline.keywords import phrases, select, singular
from pipeline.result import Neighbour

BLOCK = 1024  # rows of the similarity matrix held at once
MAX_DF = 0.25  # share of people above which a term says nothing about a pair
MIN_DOCS_FOR_DF = 12  # below this every shared term counts: a share of a handful means little
CANDIDATES = 3  # terms ranked per shown word, so a phrase can replace its own words


def nearest(embeddings: np.ndarray, texts: list[str], k: int = 5, shared: int = 3) -> list[list[Neighbour]]:
    """For each person, the ``k`` most similar others (most similar first)."""
    embeddings = np.asarray(embeddings, dtype=np.float32)
    n = len(embeddings)
    if len(texts) != n:
        raise ValueError(f"{len(texts)} texts for {n} embeddings")
    k = max(0, min(k, n - 1))
    if k == 0:
        return [[] for _ in range(n)]
    index, similarity = top_k(embeddings, k)
    words = shared_words(texts, index, shared)
    return [
        [Neighbour(int(j), float(s), w) for j, s, w in zip(index[i], similarity[i], words[i])]
        for i in range(n)
    ]


def top_k(embeddings: np.ndarray, k: int, block: int = BLOCK) -> tuple[np.ndarray, np.ndarray]:
    """(n, k) indices and similarities of each row's nearest other rows, best first."""
    n = len(embeddings)
    index = np.empty((n, k), dtype=np.int64)
    similarity = np.empty((n, k), dtype=np.float32)
    for start in range(0, n, block):
        rows = np.arange(start, min(start + block, n))
        sims = embeddings[rows] @ embeddings.T
        sims[np.arange(len(rows)), rows] = -np.inf  # never one's own neighbour
        part = np.argpartition(-sims, k - 1, axis=1)[:, :k]
        part_sims = np.take_along_axis(sims, part, axis=1)
        order = np.lexsort((part, -part_sims), axis=1)  # by similarity, ties by index
        index[rows] = np.take_along_axis(part, order, axis=1)
        similarity[rows] = np.take_along_axis(part_sims, order, axis=1)
    return index, similarity


def written_terms(text: str) -> list[str]:
    """``text``'s content words and two-word phrases of adjacent content words, as written."""
    runs = phrases(text)
    return [w for run in runs for w in run] + [f"{a} {b}" for run in runs for a, b in zip(run, run[1:])]


def term_key(term: str) -> str:
    """What two people's terms must agree on: the words in the singular."""
    return " ".join(map(singular, term.split()))


def terms(text: str) -> list[str]:
    """The keys of ``text``'s terms, with repeats (the analyzer of the TF-IDF)."""
    return [term_key(term) for term in written_terms(text)]


def surface_forms(text: str) -> dict[str, str]:
    """Each key of ``text``'s terms → the term as the text first writes it."""
    found: dict[str, str] = {}
    for term in written_terms(text):
        found.setdefault(term_key(term), term)
    return found


def shared_words(texts: list[str], index: np.ndarray, shared: int) -> list[list[list[str]]]:
    """For each pair (i, index[i, j]), up to ``shared`` words both texts use, best first."""
    n, k = index.shape
    words: list[list[list[str]]] = [[[] for _ in range(k)] for _ in range(n)]
    if shared <= 0:
        return words
    try:
        max_df = MAX_DF if len(texts) >= MIN_DOCS_FOR_DF else 1.0
        weights = TfidfVectorizer(analyzer=terms, sublinear_tf=True, max_df=max_df).fit(texts)
    except ValueError:  # no text has a single meaningful word
        return words
    vocabulary = weights.get_feature_names_out()
    tfidf = weights.transform(texts).tocsr()
    written = [surface_forms(text) for text in texts]
    left = np.repeat(np.arange(n), k)
    products = sparse.csr_matrix(tfidf[left].multiply(tfidf[index.ravel()]))
    for pair in range(n * k):
        start, end = products.indptr[pair], products.indptr[pair + 1]
        columns, values = products.indices[start:end], products.data[start:end]
        best = np.lexsort((vocabulary[columns], -values))[:CANDIDATES * shared]
        keys = select([str(w) for w in vocabulary[columns[best]]], shared)
        words[pair // k][pair % k] = [written[pair // k].get(key, key) for key in keys]
    return words
