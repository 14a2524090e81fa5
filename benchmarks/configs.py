"""The configurations the quality benchmark compares, all on the same embeddings.

- ``batchviz``: ``build_map`` with default ``PipelineParams`` (only ``top_keywords`` raised
  to 10, so keyword diversity is measured on ten per cluster like the others), fed from
  the embedding cache so nothing is embedded again.
- ``bertopic``: BERTopic as its documentation recommends for topic names (English stop
  words removed by its ``CountVectorizer``, ``ClassTfidfTransformer(reduce_frequent_words=True)``),
  given the embeddings and the same sentence-transformer; its UMAP is BERTopic's default
  one with a seed added.
- ``original``: the seed script: UMAP (n_neighbors=2, min_dist=0.99, cosine, 2-D), HDBSCAN
  (min_cluster_size=2, 'eom') on that 2-D layout, c-TF-IDF keywords of those clusters.

Each returns a ``Run``: labels (-1 noise), the 2-D layout if the method has one, and each
cluster's keywords.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from benchmarks.common import BenchmarkError
from pipeline.embed import SentenceTransformerEmbedder

TOP_KEYWORDS = 10


@dataclass
class Run:
    labels: np.ndarray
    coords: np.ndarray | None  # the 2-D layout, when the method draws one
    keywords: dict[int, list[str]]


def run_batchviz(docs, embeddings, embedder, cache, seed: int) -> Run:
    """batchviz's defaults, the embeddings coming from ``cache``."""
    from pipeline.build import build_map
    from pipeline.params import PipelineParams

    result = build_map(docs, PipelineParams(top_keywords=TOP_KEYWORDS, random_state=seed), embedder, cache)
    keywords = {number: cluster.keywords for number, cluster in result.clusters.items()}
    return Run(np.asarray(result.labels), result.coords, keywords)


def bertopic_available() -> bool:
    try:
        import bertopic  # noqa: F401
    except ImportError:
        return False
    return True


def run_bertopic(docs, embeddings, embedder, cache, seed: int) -> Run:
    """BERTopic on the same embeddings: its default UMAP (seeded), stop words removed and
    frequent words reduced, as its documentation recommends for topic representations."""
    if not bertopic_available():
        raise BenchmarkError("bertopic is not installed: pip install -e '.[bench]'")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from bertopic import BERTopic
        from bertopic.vectorizers import ClassTfidfTransformer
        from sklearn.feature_extraction.text import CountVectorizer
        from umap import UMAP

        umap_model = UMAP(n_neighbors=15, n_components=5, min_dist=0.0, metric="cosine",
                          low_memory=False, random_state=seed)
        sentence_model = None  # the SentenceTransformer itself (the hashing embedder has none)
        if isinstance(embedder, SentenceTransformerEmbedder):
            sentence_model = SentenceTransformerEmbedder(embedder.model, backend="torch").load().model
        model = BERTopic(embedding_model=sentence_model, umap_model=umap_model,
                         vectorizer_model=CountVectorizer(stop_words="english"),
                         ctfidf_model=ClassTfidfTransformer(reduce_frequent_words=True))
        topics, _ = model.fit_transform([d.text for d in docs], embeddings=np.asarray(embeddings))
    labels = np.asarray(topics, dtype=int)
    keywords = {int(t): [w for w, _ in (model.get_topic(int(t)) or []) if w]
                for t in np.unique(labels) if t != -1}
    return Run(labels, None, keywords)


def run_original(docs, embeddings, embedder, cache, seed: int) -> Run:
    """The seed script's settings: clusters of a 2-D UMAP layout, c-TF-IDF keywords."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from hdbscan import HDBSCAN
        from umap import UMAP

        coords = UMAP(n_neighbors=2, min_dist=0.99, metric="cosine", n_components=2,
                      random_state=seed).fit_transform(np.asarray(embeddings))
        labels = np.asarray(HDBSCAN(min_cluster_size=2, cluster_selection_method="eom").fit_predict(coords), dtype=int)
    return Run(labels, np.asarray(coords), plain_ctfidf_keywords([d.text for d in docs], labels))


def plain_ctfidf_keywords(texts, labels, top: int = TOP_KEYWORDS) -> dict[int, list[str]]:
    """Textbook c-TF-IDF (English stop words, noise a class of its own) per cluster."""
    from sklearn.feature_extraction.text import CountVectorizer

    from pipeline.keywords import ctfidf

    classes = sorted(set(int(label) for label in labels))
    joined = [" ".join(t for t, label in zip(texts, labels) if label == c) for c in classes]
    vectorizer = CountVectorizer(stop_words="english")
    counts = vectorizer.fit_transform(joined).toarray()
    scores, terms = ctfidf(counts), vectorizer.get_feature_names_out()
    return {c: [terms[i] for i in np.argsort(-scores[row], kind="stable")[:top] if counts[row, i] > 0]
            for row, c in enumerate(classes) if c != -1}


CONFIGS = {"batchviz": run_batchviz, "bertopic": run_bertopic, "original": run_original}
