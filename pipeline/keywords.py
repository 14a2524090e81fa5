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

Terms are 1–3-grams of words that stand next to each other in the text: a phrase is cut at
punctuation and at every stop word (``pipeline.stopwords``, plus the people's names), so
"excited to be here" yields nothing and "rust and gardening" never becomes "rust gardening".
A keyword whose words are all in a better-ranked one is dropped ("learning" after "machine
learning", "types" after "type"), and a longer phrase replaces the shorter one it contains.
"""

from __future__ import annotations

import re
from functools import partial

import numpy as np

from pipeline.errors import PipelineError
from pipeline.result import NOISE
from pipeline.stopwords import tokens

MAX_WORDS = 3
CROSS_CLUSTER_PENALTY = 0.5  # share of a term's best score in another cluster taken off
MMR_DIVERSITY = 0.5
MMR_CANDIDATES = 60
SENTENCE_MEMBERS = 8  # representative sentences come from the members nearest the centre
MIN_SENTENCE_WORDS = 3  # content words; "Hi everyone!" is not representative of anything
MODES = ("ctfidf", "mmr", "sentences")

_PHRASE_BREAK = re.compile(r"[.,;:!?()\[\]{}\"|/…—–\n\r\t]+|\s[-*]\s")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")


def phrases(text: str, extra_stop_words=frozenset()) -> list[list[str]]:
    """Runs of adjacent content words of ``text`` (cut at punctuation and stop words)."""
    runs = []
    for piece in _PHRASE_BREAK.split(text):
        run = []
        for word in piece.split():
            kept = [t for t in tokens(word) if t not in extra_stop_words]
            if not kept and run:
                runs.append(run)
                run = []
            run.extend(kept)
        if run:
            runs.append(run)
    return runs


def ngrams(text: str, extra_stop_words=frozenset(), max_words: int = MAX_WORDS) -> set[str]:
    """The distinct 1..max_words-grams of ``text``'s phrases."""
    return {
        " ".join(run[i:i + size])
        for run in phrases(text, extra_stop_words)
        for size in range(1, max_words + 1)
        for i in range(len(run) - size + 1)
    }


def name_words(names) -> frozenset[str]:
    """Every word of the people's names, lowercased: never a keyword."""
    return frozenset(word for name in names for word in re.findall(r"[^\W_]+", name.lower()))


def class_term_counts(texts_by_cluster: dict[int, list[str]], extra_stop_words=()):
    """(classes, terms, counts): how many members of each class use each term."""
    from sklearn.feature_extraction.text import CountVectorizer  # here: the chat path imports this module

    classes = list(texts_by_cluster)
    texts = [t for c in classes for t in texts_by_cluster[c]]
    owner = np.repeat(np.arange(len(classes)), [len(texts_by_cluster[c]) for c in classes])
    analyzer = partial(ngrams, extra_stop_words=frozenset(extra_stop_words))
    vectorizer = CountVectorizer(analyzer=analyzer, binary=True)
    try:
        per_person = vectorizer.fit_transform(texts)
    except ValueError:  # no content words at all
        return classes, np.array([], dtype=object), np.zeros((len(classes), 0))
    indicator = np.zeros((len(classes), len(texts)))
    indicator[owner, np.arange(len(texts))] = 1.0
    counts = np.asarray((per_person.T @ indicator.T).T)
    return classes, vectorizer.get_feature_names_out(), counts


def ctfidf(counts: np.ndarray) -> np.ndarray:
    """BERTopic's class-based TF-IDF of a (classes × terms) count matrix."""
    if counts.size == 0:
        return counts.astype(float)
    tf = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    average = counts.sum() / len(counts)
    idf = np.log1p(average / np.maximum(counts.sum(axis=0), 1))
    return tf * idf


def distinctive(scores: np.ndarray) -> np.ndarray:
    """Scores minus a share of each term's best score in any other class."""
    if len(scores) < 2:
        return scores
    ordered = np.sort(scores, axis=0)
    best, second = ordered[-1], ordered[-2]
    other_best = np.where(scores >= best, second, best)
    return scores - CROSS_CLUSTER_PENALTY * other_best


def select(ranked, top_n: int) -> list[str]:
    """The first ``top_n`` of ``ranked`` phrases, without phrases covered by better ones."""
    chosen: list[str] = []
    for term in ranked:
        words = _stems(term)
        if any(words <= _stems(c) for c in chosen):
            continue
        inside = [c for c in chosen if f" {c} " in f" {term} "]
        if inside:  # "machine learning" replaces "machine", in its place
            chosen[chosen.index(inside[0])] = term
            chosen = [c for c in chosen if c not in inside[1:]]
        else:
            chosen.append(term)
        if len(chosen) == top_n:
            break
    return chosen


def singular(word: str) -> str:
    """``word`` without a plural "s" (enough to tell "type" from "types", not "class")."""
    return word[:-1] if len(word) > 3 and word.endswith("s") and not word.endswith("ss") else word


def _stems(phrase: str) -> set[str]:
    """The words of ``phrase`` in the singular."""
    return {singular(w) for w in phrase.split()}


def ctfidf_keywords(texts_by_cluster: dict[int, list[str]], top_n: int = 6, extra_stop_words=()) -> dict[int, list[str]]:
    """Top ``top_n`` distinctive keywords of every cluster (key NOISE gets none)."""
    classes, terms, counts = class_term_counts(texts_by_cluster, extra_stop_words)
    scores = distinctive(ctfidf(counts))
    result = {}
    for row, label in enumerate(classes):
        if label == NOISE:
            continue
        present = np.flatnonzero(counts[row] > 0)
        order = present[np.argsort(-scores[row, present], kind="stable")]
        result[label] = select(terms[order[: 10 * top_n]], top_n)
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
        present = np.flatnonzero(counts[row] > 0)
        candidates = terms[present[np.argsort(-counts[row, present], kind="stable")][:MMR_CANDIDATES]]
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
