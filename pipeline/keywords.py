"""Naming clusters: a few short keywords each, and the sentences that sound most like them.

Three ways, chosen by ``PipelineParams.keywords``:

- "ctfidf" (default) — class-based TF-IDF as in BERTopic: the members' texts of a cluster
  form one class; ``tf`` is a term's share of the class's terms, ``idf = log(1 + A / f_t)``
  with ``A`` the average number of terms per class and ``f_t`` the term's count over all
  classes. Two changes for introductions: a term counts once per person (one person saying
  "rust" five times is not a group's interest), and a term that scores high in another
  cluster is penalised, so that neighbouring clusters get different names.
- "mmr" — KeyBERT style: the cluster's most frequent phrases are embedded and chosen by
  maximal marginal relevance against the cluster's centroid embedding.
- "sentences" — the keywords of "ctfidf", plus each cluster's most representative
  sentences (those of its central members closest to the centroid embedding). Only this
  mode embeds sentences: they are not cached, and on a busy CPU they cost seconds.

Noise takes part in the IDF as a class of its own (generic words of ungrouped people then
count as common, which is what they are) but gets no keywords.

Terms are 1–3-grams of words that stand next to each other in the text (``pipeline.phrases``):
a phrase is cut at punctuation and at every stop word (``pipeline.stopwords``, plus the
people's names), so "excited to be here" yields nothing and "rust and gardening" never
becomes "rust gardening". A term and its plural are one term ("scheduler" = "schedulers",
shown as most people wrote it), counted once per person.

What a group is called, in ``ctfidf``:

- **Shared**: a keyword is written by at least ``MIN_SUPPORT`` (2) members; only in a group
  of three or fewer who share no term, by one (a third). A bigger group whose members share
  no words gets no keywords rather than one person's words.
- **Whole phrases**: a term is replaced by a longer phrase around it when at least half of
  the members who wrote the term wrote that phrase (``pipeline.phrases.ABSORB``): "proof" by "proof
  assistant", "operating" by "operating systems"; the phrase takes the better rank of the
  two. A term most writers use on its own ("rust") stays.
- **No fragments**: a keyword whose words are all in a better-ranked one is dropped ("learning"
  after "machine learning", "types" after "type"); a longer phrase replaces one it contains.
- **A specific name**: a term only of ``EMPTY_WORDS`` ("cases", "next steps") is never a
  keyword, and the first keyword (the group's name) is not a single word of
  ``GENERIC_WORDS`` ("app", "data", "type") while another keyword is more specific.
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict

import numpy as np

from pipeline.errors import PipelineError
from pipeline.result import NOISE
from pipeline.phrases import absorbed, ngrams, phrases, select, singular, term_key  # noqa: F401 (re-exported)
from pipeline.stopwords import GENERIC_WORDS, names_nothing, tokens

MIN_SUPPORT = 2  # members who must write a keyword (a third of a smaller group)
CROSS_CLUSTER_PENALTY = 0.5  # share of a term's best score in another cluster taken off
MMR_DIVERSITY = 0.5
MMR_CANDIDATES = 60
SENTENCE_MEMBERS = 8  # representative sentences come from the members nearest the centre
MIN_SENTENCE_WORDS = 3  # content words; "Hi everyone!" is not representative of anything
MODES = ("ctfidf", "mmr", "sentences")

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")


def name_words(names) -> frozenset[str]:
    """Every word of the people's names, lowercased: never a keyword."""
    return frozenset(word for name in names for word in re.findall(r"[^\W_]+", name.lower()))


def class_term_counts(texts_by_cluster: dict[int, list[str]], extra_stop_words=()):
    """(classes, terms, counts): how many members of each class use each term.

    A term and its plural count as one; ``terms`` holds the form most people wrote.
    ``counts`` is a sparse (classes × terms) CSR matrix: most groups use few of the terms
    (dense, it took 0.9 GB at 20,000 people); ``row_of`` gives one class's row.
    """
    from scipy import sparse  # these here: the chat path imports this module
    from sklearn.feature_extraction.text import CountVectorizer

    classes = list(texts_by_cluster)
    texts = [t for c in classes for t in texts_by_cluster[c]]
    owner = np.repeat(np.arange(len(classes)), [len(texts_by_cluster[c]) for c in classes])
    grams = [ngrams(text, frozenset(extra_stop_words)) for text in texts]
    keys: dict[str, str] = {}  # term -> term_key(term), once per distinct term
    written: dict[str, Counter] = defaultdict(Counter)  # key -> how many wrote each form
    for term, people in Counter(term for person in grams for term in person).items():
        key = keys[term] = term_key(term)
        written[key][term] = people
    vectorizer = CountVectorizer(analyzer=_as_given, binary=True)
    try:
        per_person = vectorizer.fit_transform([{keys[term] for term in person} for person in grams])
    except ValueError:  # no content words at all
        return classes, np.array([], dtype=object), sparse.csr_matrix((len(classes), 0))
    members = sparse.csr_matrix((np.ones(len(texts)), (owner, np.arange(len(texts)))), shape=(len(classes), len(texts)))
    counts = sparse.csr_matrix(members @ per_person, dtype=float)
    shown = np.array([_most_written(written[key]) for key in vectorizer.get_feature_names_out()], dtype=object)
    return classes, shown, counts


def _most_written(forms: Counter) -> str:
    """The form most people wrote; of equally common ones the first alphabetically."""
    return min(forms.items(), key=lambda item: (-item[1], item[0]))[0]


def _as_given(keys: set[str]) -> set[str]:
    return keys


def ctfidf(counts):
    """BERTopic's class-based TF-IDF of a (classes × terms) count matrix, dense or sparse
    (CSR, kept sparse: each entry computed as in the dense case, so the same values)."""
    from scipy import sparse

    if counts.shape[0] == 0 or counts.shape[1] == 0:
        return counts.astype(float)
    per_class = np.maximum(np.asarray(counts.sum(axis=1), dtype=float).ravel(), 1)
    per_term = np.asarray(counts.sum(axis=0), dtype=float).ravel()
    idf = np.log1p((counts.sum() / counts.shape[0]) / np.maximum(per_term, 1))
    if not sparse.issparse(counts):
        return counts / per_class[:, None] * idf
    scores = sparse.csr_matrix(counts, dtype=float, copy=True)
    scores.data = scores.data / per_class[_rows(scores)] * idf[scores.indices]
    return scores


def _rows(matrix) -> np.ndarray:
    """The row of each stored entry of a CSR matrix."""
    return np.repeat(np.arange(matrix.shape[0]), np.diff(matrix.indptr))


def distinctive(scores):
    """The stored (positive) scores of a CSR (classes × terms) matrix minus a share of each
    term's best score in any other class (0 where no other class has the term)."""
    from scipy import sparse

    if scores.shape[0] < 2:
        return scores
    by_term = scores.tocsc()
    starts, ends = by_term.indptr[:-1], by_term.indptr[1:]
    column = np.repeat(np.arange(by_term.shape[1]), ends - starts)
    data = by_term.data[np.lexsort((by_term.data, column))]  # ascending within each term
    has = ends > starts
    best = np.zeros(by_term.shape[1])
    best[has] = data[ends[has] - 1]
    second = np.zeros(by_term.shape[1])
    two = ends - starts >= 2
    second[two] = data[ends[two] - 2]
    result = sparse.csr_matrix(scores, copy=True)
    mine = result.data
    result.data = mine - CROSS_CLUSTER_PENALTY * np.where(mine >= best[result.indices], second[result.indices],
                                                           best[result.indices])
    return result


def row_of(matrix, row: int) -> np.ndarray:
    """One row of a sparse matrix as a dense vector."""
    return matrix[row].toarray().ravel()


def min_support(size: int, most: int) -> int:
    """Members of a group of ``size`` who must write a keyword, ``most`` the most any term has.

    Two; in a group of three or fewer whose members share no term, one (a third of them).
    """
    return MIN_SUPPORT if most >= MIN_SUPPORT else max(1, min(MIN_SUPPORT, math.ceil(size / 3)))


def phrase_ranking(terms, scores: np.ndarray, counts: np.ndarray, support: int) -> list[str]:
    """The shared terms, whole phrases standing for their parts, best score first."""
    shared = np.flatnonzero(counts >= support)
    stand_in = absorbed(terms, counts, shared)
    best: dict[int, float] = {}
    for i, j in stand_in.items():
        best[j] = max(best.get(j, -np.inf), scores[i])
    ranked = sorted(best, key=lambda j: (-best[j], j))
    return [terms[j] for j in ranked if not names_nothing(terms[j])]


def specific_first(keywords: list[str]) -> list[str]:
    """``keywords`` with a more specific one first when the first is a lone generic word."""
    for i, keyword in enumerate(keywords):
        if keyword not in GENERIC_WORDS:
            return [keyword, *keywords[:i], *keywords[i + 1:]]
    return keywords


def ctfidf_keywords(texts_by_cluster: dict[int, list[str]], top_n: int = 6, extra_stop_words=()) -> dict[int, list[str]]:
    """Top ``top_n`` distinctive shared phrases of every cluster (key NOISE gets none)."""
    classes, terms, counts = class_term_counts(texts_by_cluster, extra_stop_words)
    scores = distinctive(ctfidf(counts))
    result = {}
    for row, label in enumerate(classes):
        if label == NOISE:
            continue
        written = row_of(counts, row)
        support = min_support(len(texts_by_cluster[label]), written.max(initial=0))
        ranked = phrase_ranking(terms, row_of(scores, row), written, support)
        result[label] = specific_first(select(ranked, top_n))
    return result


def mmr_order(vectors: np.ndarray, target: np.ndarray, diversity: float = MMR_DIVERSITY) -> list[int]:
    """Indices of ``vectors`` by maximal marginal relevance to ``target`` (all of them)."""
    relevance = vectors @ target
    similarity = vectors @ vectors.T
    order = [int(np.argmax(relevance))] if len(vectors) else []
    redundancy = similarity[order[0]].copy() if order else None
    while len(order) < len(vectors):
        score = (1 - diversity) * relevance - diversity * redundancy
        score[order] = -np.inf
        pick = int(np.argmax(score))
        order.append(pick)
        redundancy = np.maximum(redundancy, similarity[pick])
    return order


def mmr_keywords(texts_by_cluster, centroids: dict[int, np.ndarray], embedder, top_n: int = 6,
                 extra_stop_words=()) -> dict[int, list[str]]:
    """KeyBERT-style keywords: frequent phrases of a cluster chosen by MMR to its centroid."""
    classes, terms, counts = class_term_counts(texts_by_cluster, extra_stop_words)
    result = {}
    for row, label in enumerate(classes):
        if label == NOISE:
            continue
        written = row_of(counts, row)
        present = np.flatnonzero(written > 0)
        candidates = terms[present[np.argsort(-written[present], kind="stable")][:MMR_CANDIDATES]]
        if len(candidates) == 0:
            result[label] = []
            continue
        order = mmr_order(embedder.encode(list(candidates)), centroids[label])
        result[label] = select(candidates[order], top_n)
    return result


def sentences_of(text: str) -> list[str]:
    """The sentences of ``text`` that say something (enough content words)."""
    parts = (s.strip(" -*•\t") for s in _SENTENCE_END.split(text))
    return [s for s in parts if len(tokens(s)) >= MIN_SENTENCE_WORDS]


def representative_sentences(texts_by_cluster, centroids: dict[int, np.ndarray], embedder,
                             top_n: int = 3) -> dict[int, list[str]]:
    """The ``top_n`` sentences of each cluster's texts closest to its centroid embedding."""
    candidates = {label: list(dict.fromkeys(s for t in texts for s in sentences_of(t)))
                  for label, texts in texts_by_cluster.items() if label != NOISE}
    flat = [s for label in candidates for s in candidates[label]]
    vectors = iter(embedder.encode(flat)) if flat else iter(())
    result = {}
    for label, sentences in candidates.items():
        closeness = np.array([next(vectors) @ centroids[label] for _ in sentences])
        result[label] = [sentences[i] for i in np.argsort(-closeness, kind="stable")[:top_n]]
    return result


def centroids_of(labels: np.ndarray, embeddings: np.ndarray) -> dict[int, np.ndarray]:
    """The normalised mean embedding of every cluster."""
    result = {}
    for label in np.unique(labels[labels != NOISE]):
        mean = embeddings[labels == label].mean(axis=0)
        result[int(label)] = mean / max(np.linalg.norm(mean), 1e-12)
    return result


def check_mode(mode: str) -> None:
    """Raise ``PipelineError`` naming the choices when ``mode`` is not a keyword method."""
    if mode not in MODES:
        raise PipelineError(f"keywords must be one of {', '.join(MODES)}, not {mode!r}")


def cluster_keywords(labels, docs, embeddings, params, embedder=None) -> dict[int, tuple[list[str], list[str]]]:
    """(keywords, representative sentences) for every cluster label in ``labels``.

    ``embeddings`` (the documents' vectors) and ``embedder`` are needed by "mmr" and
    "sentences"; without an embedder both fall back to plain c-TF-IDF keywords.
    """
    check_mode(params.keywords)
    labels = np.asarray(labels, dtype=int)
    texts = {int(label): [d.text for d, l in zip(docs, labels) if l == label] for label in np.unique(labels)}
    names = name_words(d.name for d in docs)
    centroids = centroids_of(labels, embeddings) if embedder is not None else {}
    if params.keywords == "mmr" and embedder is not None:
        keywords = mmr_keywords(texts, centroids, embedder, params.top_keywords, names)
    else:
        keywords = ctfidf_keywords(texts, params.top_keywords, names)
    sentences = {}
    if params.keywords == "sentences" and embedder is not None:
        sentences = representative_sentences(_central_texts(labels, docs, embeddings, centroids), centroids, embedder)
    return {label: (keywords.get(label, []), sentences.get(label, [])) for label in texts if label != NOISE}


def _central_texts(labels, docs, embeddings, centroids) -> dict[int, list[str]]:
    """The texts of the ``SENTENCE_MEMBERS`` members of each cluster nearest its centroid."""
    result = {}
    for label, centre in centroids.items():
        members = np.flatnonzero(labels == label)
        nearest = members[np.argsort(-(embeddings[members] @ centre), kind="stable")[:SENTENCE_MEMBERS]]
        result[label] = [docs[i].text for i in nearest]
    return result
