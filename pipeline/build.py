"""The runner: documents in, a ``MapResult`` out, through every stage in order.

embed (cached) → reduce to the clustering space (~5-D) → cluster (HDBSCAN) → reduce to the
picture (2-D or 3-D) → stable numbers → keywords → neighbours.

The clustering runs on its own UMAP space, not on the picture: two dimensions squeeze
groups into each other. Everyone gets a place on the map and neighbours, grouped or not;
two people with identical texts are two points. The wall time of every stage is recorded
in ``result.params["timings"]`` (seconds) for the benchmark, and what ran the model (onnx
or torch) in ``result.params["embedding_backend"]`` for ``status``.

After a few new introductions the layout is not fitted again: the newcomers are placed on
the previous map's fit, kept in this process (``pipeline.incremental``, which holds the
rule for when a build fits fully; ``refit=True`` always does). Which one happened is in
``result.params["resolved"]["layout_update"]`` ("fit" or "transform").
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from datetime import datetime, timezone

import numpy as np

from pipeline import incremental
from pipeline.adaptive import adaptive_params
from pipeline.embed import SentenceTransformerEmbedder, embed_documents
from pipeline.errors import PipelineError
from pipeline.keywords import check_mode, cluster_keywords
from pipeline.neighbours import nearest
from pipeline.params import PipelineParams
from pipeline.reduce import import_libraries
from pipeline.result import Cluster, MapResult
from pipeline.stable import HIGH_WATER_KEY, high_water_mark, renumber

EMPTY_NOTICE = "No introductions yet, so there is nothing to map."
STAGES = ("embed", "reduce_clusters", "cluster", "reduce_picture", "renumber", "keywords", "neighbours")


class StageTimer:
    """Times named stages and tells ``progress(stage)`` (if given) when each one starts."""

    def __init__(self, progress=None):
        self.progress = progress
        self.timings: dict[str, float] = {}

    @contextmanager
    def __call__(self, stage: str):
        if self.progress is not None:
            self.progress(stage)
        start = time.perf_counter()
        try:
            yield
        finally:
            self.timings[stage] = round(time.perf_counter() - start, 4)


def build_map(documents, params: PipelineParams | None = None, embedder=None, cache=None,
              previous: MapResult | None = None, progress=None, refit: bool = False) -> MapResult:
    """Build the map of ``documents``; ``previous`` keeps cluster numbers stable, and
    newcomers may be placed on its fit (see ``pipeline.incremental``) unless ``refit``.

    ``embedder`` None is the bundled all-MiniLM-L6-v2; ``cache`` an ``EmbeddingCache``;
    ``progress`` a callable told the name of each stage as it starts (see ``STAGES``).
    """
    params = params or PipelineParams()
    _check(params)
    embedder = embedder or SentenceTransformerEmbedder()
    docs = list(documents)
    resolved = adaptive_params(len(docs), params)
    timer = StageTimer(progress)
    with timer("embed"):
        embeddings = embed_documents(docs, embedder, cache, before_encoding=import_libraries)
    ids = [d.person_id for d in docs]
    layout = incremental.layout(ids, embeddings, resolved, previous, params, embedder.model_id, refit, timer)
    with timer("renumber"):
        labels = renumber(layout.raw_labels, ids, previous)
    with timer("keywords"):
        named = cluster_keywords(labels, docs, embeddings, params, embedder)
    with timer("neighbours"):
        neighbours = nearest(embeddings, [d.text for d in docs], params.neighbours_k) if docs else []
    clusters = {
        number: Cluster(number, np.flatnonzero(labels == number).tolist(), words, sentences)
        for number, (words, sentences) in sorted(named.items())
    }
    record = {
        **params.as_dict(),
        "resolved": {**resolved, **layout.record},
        HIGH_WATER_KEY: max([high_water_mark(previous), *clusters]),
        "timings": timer.timings,
        "embedding_backend": getattr(embedder, "runs_on", None),  # onnx or torch; None: no model (hashing)
    }
    result = MapResult(
        people=docs, embeddings=embeddings, coords=layout.coords, labels=labels, clusters=clusters,
        neighbours=neighbours, model=embedder.model_id, params=record,
        built_at=datetime.now(timezone.utc), notice=EMPTY_NOTICE if not docs else layout.notice,
    )
    incremental.remember(result, layout)
    return result


def _check(params: PipelineParams) -> None:
    """Reject parameters no stage can honour, naming the parameter."""
    if params.components not in (2, 3):
        raise PipelineError(f"components must be 2 or 3, not {params.components!r}")
    for name in ("cluster_components", "n_neighbors", "min_cluster_size", "min_samples"):
        value = getattr(params, name)
        if value is not None and (not isinstance(value, int) or value < 1):
            raise PipelineError(f"{name} must be a positive whole number or empty, not {value!r}")
    if params.top_keywords < 1 or params.neighbours_k < 0:
        raise PipelineError("top_keywords must be at least 1 and neighbours_k at least 0")
    check_mode(params.keywords)

