"""Everyone's nearest people in the full embedding space, with the words they share.

The similarity shown is the cosine of the embeddings. The order is a re-ranking in the
same space (``rank``) that raises how often a neighbour is of the same kind: each
person's vector is first averaged with their ``EXPAND_K`` most similar others (weighted
by cosine, ``EXPAND_WEIGHT`` in all), then pairs are scored by the cosine of those
vectors plus ``OVERLAP_WEIGHT`` × the Jaccard overlap of their ``OVERLAP_K`` nearest
neighbours. Two people who share their neighbourhoods move up; a "hub" close to
everyone but in nobody's circle moves down. Every score is computed block by block
(``BLOCK`` rows against everyone, the shared words ``PAIR_BLOCK`` pairs at a time), so
memory grows only linearly with the number of people. The shared words of a pair are
the words and two-word phrases ("machine learning") both texts use, ranked by the product
of their TF-IDF weights in the two texts (IDF over everyone), so rare words both people
care about come first. Singular and plural count as one ("kernel", "kernels"), shown as
the first person wrote it. A phrase takes the place of its own words ("game engine", not
also "engine"). In a batch of ``MIN_DOCS_FOR_DF`` or more, a term more than
``MAX_DF`` of the people use is too common to explain a match and is left out.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Callable, Iterator

import numpy as np

from pipeline.keywords import phrases, select, term_key
from pipeline.result import Neighbour

BLOCK = 1024  # rows scored against everyone at once (one size always: it fixes the products' rounding)
PICK_ROWS = 128  # rows whose best are picked at once (the picking's index takes 2× the scores)
PAIR_BLOCK = 4096  # pairs whose shared words are weighed at once
MAX_DF = 0.25  # share of people above which a term says nothing about a pair
MIN_DOCS_FOR_DF = 12  # below this every shared term counts: a share of a handful means little
CANDIDATES = 3  # terms ranked per shown word, so a phrase can replace its own words
EXPAND_K = 3  # nearest others averaged into a person's vector before ranking
EXPAND_WEIGHT = 2.0  # their total weight against the person's own (1)
OVERLAP_K = 10  # nearest others whose overlap two people's score shares
OVERLAP_WEIGHT = 0.5  # weight of that Jaccard overlap against the cosine
FEW_EXTRA = 16  # people sorted past the k asked for by one person (some may be turned away)


def nearest(embeddings: np.ndarray, texts: list[str], k: int = 5, shared: int = 3) -> list[list[Neighbour]]:
    """For each person, the ``k`` nearest others: chosen by the re-ranked score (see
    ``rank``), listed by plain cosine similarity, highest first, as people read them."""
    embeddings = np.asarray(embeddings, dtype=np.float32)
    n = len(embeddings)
    if len(texts) != n:
        raise ValueError(f"{len(texts)} texts for {n} embeddings")
    k = max(0, min(k, n - 1))
    if k == 0:
        return [[] for _ in range(n)]
    index, similarity = rank(embeddings, k)
    order = np.argsort(-similarity, axis=1, kind="stable")
    index, similarity = np.take_along_axis(index, order, 1), np.take_along_axis(similarity, order, 1)
    words = shared_words(texts, index, shared)
    return [
        [Neighbour(int(j), float(s), w) for j, s, w in zip(index[i], similarity[i], words[i])]
        for i in range(n)
    ]


def nearest_to(unit: np.ndarray, texts: list[str], row: int, k: int = 5, shared: int = 3,
               keep: Callable[[int], bool] = lambda index: True) -> list[Neighbour]:
    """One person's ``k`` nearest others that ``keep`` accepts, by plain cosine similarity,
    highest first (ties to the lower index). ``unit``: the embeddings at unit length
    (``normalised``; a caller answering many questions on one map normalises once).

    Only that person's row is scored: O(n·d) time and memory, where ``nearest`` for
    everyone is O(n²·d). Only the best few are sorted (all the people tied with the last
    of them included, so ties still go to the lower index), more if ``keep`` turns too
    many away. For answering one question when the stored neighbours are too few (more
    asked, or some opted out)."""
    similarity = unit @ unit[row]
    n, wanted = len(similarity), k + 1 + FEW_EXTRA
    while True:
        if wanted >= n:
            candidates = np.arange(n)
        else:  # everyone at least as similar as the wanted-th best
            candidates = np.flatnonzero(similarity >= np.partition(similarity, n - wanted)[n - wanted])
        order = candidates[np.lexsort((candidates, -similarity[candidates]))]
        chosen = [int(j) for j in _kept(order, row, keep, k)]
        if len(chosen) == k or wanted >= n:
            break
        wanted *= 4
    words = pair_words(texts, np.full(len(chosen), row), np.array(chosen, dtype=np.int64), shared)
    return [Neighbour(j, float(similarity[j]), w) for j, w in zip(chosen, words)]


def _kept(order: np.ndarray, row: int, keep: Callable[[int], bool], k: int) -> Iterator[int]:
    taken = 0
    for j in order:
        if taken == k:
            return
        if j != row and keep(int(j)):
            taken += 1
            yield j


def rank(embeddings: np.ndarray, k: int, block: int = BLOCK) -> tuple[np.ndarray, np.ndarray]:
    """(n, k) indices of each row's nearest others by the re-ranked score, best first,
    and their plain cosine similarities."""
    unit = normalised(embeddings)
    expanded = expand(unit, min(EXPAND_K, len(unit) - 1), block)
    overlap = neighbour_overlap(expanded, min(OVERLAP_K, len(unit) - 1), block)

    def score(rows):
        scores, near = expanded[rows] @ expanded.T, overlap[rows]
        scores[np.repeat(np.arange(len(rows)), np.diff(near.indptr)), near.indices] += OVERLAP_WEIGHT * near.data
        return scores

    index, _ = best(score, len(unit), k, block)
    return index, np.einsum("nd,nkd->nk", unit, unit[index])


def top_k(embeddings: np.ndarray, k: int, block: int = BLOCK) -> tuple[np.ndarray, np.ndarray]:
    """(n, k) indices and similarities (dot products) of each row's nearest other rows, best first."""
    embeddings = np.asarray(embeddings, dtype=np.float32)
    return best(lambda rows: embeddings[rows] @ embeddings.T, len(embeddings), k, block)


def best(score, n: int, k: int, block: int = BLOCK) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` highest ``score(rows)`` (a block × n array) of each row, others only, best
    first, ties to the lower index."""
    index = np.empty((n, k), dtype=np.int64)
    scores = np.empty((n, k), dtype=np.float32)
    for start in range(0, n, block):
        rows = np.arange(start, min(start + block, n))
        sims = np.asarray(score(rows), dtype=np.float32)
        sims[np.arange(len(rows)), rows] = -np.inf  # never one's own neighbour
        costs = np.negative(sims, out=sims)  # in place: argpartition picks the lowest
        part = np.vstack([np.argpartition(costs[i:i + PICK_ROWS], k - 1, axis=1)[:, :k]
                          for i in range(0, len(rows), PICK_ROWS)])
        part_sims = -np.take_along_axis(costs, part, axis=1)
        order = np.lexsort((part, -part_sims), axis=1)  # by score, ties by index
        index[rows] = np.take_along_axis(part, order, axis=1)
        scores[rows] = np.take_along_axis(part_sims, order, axis=1)
    return index, scores


def normalised(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (an all-zero row stays zero)."""
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, np.finfo(np.float32).tiny)


def expand(unit: np.ndarray, k: int, block: int = BLOCK) -> np.ndarray:
    """Each unit row plus its ``k`` nearest others, weighted by (positive) cosine, renormalised."""
    if k < 1:
        return unit
    index, sims = top_k(unit, k, block)
    weights = EXPAND_WEIGHT * np.clip(sims, 0, None) / k
    return normalised(unit + np.einsum("nk,nkd->nd", weights, unit[index]))


def neighbour_overlap(unit: np.ndarray, k: int, block: int = BLOCK):
    """Sparse n × n Jaccard overlap of the rows' neighbourhoods (each row and its ``k`` nearest)."""
    from scipy import sparse

    n = len(unit)
    if k < 1:
        return sparse.csr_matrix((n, n), dtype=np.float32)
    index = np.hstack([np.arange(n)[:, None], top_k(unit, k, block)[0]])
    members = sparse.csr_matrix((np.ones(index.size, dtype=np.float32), index.ravel(),
                                 np.arange(0, index.size + 1, k + 1)), shape=(n, n))
    common = (members @ members.T).tocsr()
    common.data = common.data / (2 * (k + 1) - common.data)
    return common


def written_terms(text: str) -> list[str]:
    """``text``'s content words and two-word phrases of adjacent content words, as written."""
    runs = phrases(text)
    return [w for run in runs for w in run] + [f"{a} {b}" for run in runs for a, b in zip(run, run[1:])]


def analysed(texts) -> tuple[list[list[str]], list[dict[str, str]]]:
    """Each text read once: the keys of its terms with repeats (what two people's terms must
    agree on: the words in the singular), and {key: the term as the text first wrote it}
    for the keys the text first wrote otherwise ("kernel": "kernels")."""
    known: dict[str, str] = {}  # written term -> key, for every text (few distinct terms)
    keys, forms = [], []
    for text in texts:
        written = written_terms(text)
        keys.append([known.get(term) or known.setdefault(term, term_key(term)) for term in written])
        first = dict(zip(reversed(keys[-1]), reversed(written)))
        forms.append({key: term for key, term in first.items() if key != term})
    return keys, forms


def shared_words(texts: list[str], index: np.ndarray, shared: int) -> list[list[list[str]]]:
    """For each pair (i, index[i, j]), up to ``shared`` words both texts use, best first."""
    n, k = index.shape
    flat = pair_words(texts, np.repeat(np.arange(n), k), index.ravel(), shared)
    return [flat[i * k:(i + 1) * k] for i in range(n)]


@lru_cache(maxsize=2)
def term_weights(texts: tuple[str, ...]):
    """(vocabulary, TF-IDF rows, written forms as ``analysed``) of the texts, or None when
    no text has a meaningful word. The vocabulary is in alphabetical order.

    Kept for the last two sets of texts: answering `near me` on a stored map reuses the
    map's weights instead of fitting them again over everyone's text for each question.
    """
    from sklearn.feature_extraction.text import TfidfVectorizer

    keys, forms = analysed(texts)
    max_df = MAX_DF if len(texts) >= MIN_DOCS_FOR_DF else 1.0
    try:
        weights = TfidfVectorizer(analyzer=_as_given, sublinear_tf=True, max_df=max_df).fit(keys)
    except ValueError:  # no text has a single meaningful word
        return None
    return weights.get_feature_names_out(), weights.transform(keys).tocsr(), forms


def _as_given(keys: list[str]) -> list[str]:
    return keys


def pair_words(texts: list[str], left: np.ndarray, right: np.ndarray, shared: int) -> list[list[str]]:
    """For each pair (left[p], right[p]), up to ``shared`` words both texts use, best first."""
    fitted = term_weights(tuple(texts)) if shared > 0 and len(left) else None
    if fitted is None:
        return [[] for _ in range(len(left))]
    vocabulary, tfidf, forms = fitted
    words = []
    for start in range(0, len(left), PAIR_BLOCK):
        pairs = slice(start, start + PAIR_BLOCK)
        for person, keys in zip(left[pairs], ranked_keys(tfidf[left[pairs]], tfidf[right[pairs]], vocabulary, shared)):
            words.append([forms[person].get(key, key) for key in keys])
    return words


def ranked_keys(a, b, vocabulary: np.ndarray, shared: int) -> Iterator[list[str]]:
    """For each row pair of the TF-IDF rows ``a`` and ``b``, the keys of ``select``'s best
    ``shared`` of their terms by product of weights (ties alphabetically: the vocabulary is)."""
    from scipy import sparse  # here: importing this module (the chat path does) stays light

    products = sparse.csr_matrix(a.multiply(b))
    for pair in range(products.shape[0]):
        start, end = products.indptr[pair], products.indptr[pair + 1]
        columns, values = products.indices[start:end], products.data[start:end]
        best = np.lexsort((columns, -values))[:CANDIDATES * shared]
        yield select([str(w) for w in vocabulary[columns[best]]], shared)
