"""Refits that hold still: the previous map's groups are kept unless a fresh fit is clearly better.

A full fit (an edit, a removal, an opt-out, the nightly rebuild) runs UMAP and HDBSCAN
afresh. Seeded, UMAP still draws another layout as soon as one text changes (its graph,
its spectral start and its random draws all shift), and HDBSCAN's groups follow: on a
36-person batch one edit turned 8 groups into 5, and deleting it split them again.

So a refit after ``previous`` (``PipelineParams.stable_refit``, on by default) weighs two
partitions of this build's people and keeps the previous one unless the fresh one is
clearly better:

- **carried over** (``Carried``): everyone whose text is unchanged in the group they were
  in; a person who is new or whose text changed joins the group of more than half of
  their ``VOTE_K`` nearest others (``adopted``, the rule newcomers placed on a fit follow
  too), else no group; a group left smaller than the fit's ``min_cluster_size`` dissolves;
- **fresh**: the new fit's HDBSCAN groups.

"Clearly better" is the rule that chooses HDBSCAN's cut (``pipeline.adaptive.separation``:
mean cosine silhouette in the full embedding space, a person in no group counting 0) by
more than ``PARTITION_MARGIN``. The layout (the picture) is always the fresh fit's; only
the groups hold. A map whose groups no longer fit its people (many edits, many newcomers
placed) loses to a fresh fit and is replaced by it.

Tried and measured before this rule (benchmarks/README.md, ``benchmarks/refit.py``):
starting both UMAP fits from the previous places (warm start) and keeping the previous
HDBSCAN cut unless the other is better by 0.05 changed nothing that mattered: UMAP's 500
epochs move a warm start as far as a cold one on these small maps, and the instability
lies within one cut, not between cuts.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pipeline.adaptive import separation
from pipeline.neighbours import normalised
from pipeline.result import NOISE

PARTITION_MARGIN = 0.02  # silhouette by which a fresh partition must beat the previous map's
SAME_VECTOR = 1e-4  # this close, an embedding is the same text (re-encoded in another batch: rounding)
VOTE_K = 5  # nearest people whose group a newcomer (or a changed person) may join


@dataclass(frozen=True)
class Carried:
    """The previous map's groups carried over to this build's people, row for row."""

    labels: np.ndarray  # each unchanged person's previous group (NOISE: none, or not unchanged)
    changed: np.ndarray  # the rows of the people who are new or whose text changed


def carried_over(ids: list[str], embeddings: np.ndarray, previous) -> Carried | None:
    """``previous``'s groups for the people of ``ids`` whose embedding is unchanged, or None
    when there is no previous map or it had no groups."""
    if previous is None or not len(previous) or not np.any(np.asarray(previous.labels) != NOISE):
        return None
    rows = {doc.person_id: row for row, doc in enumerate(previous.people)}
    labels = np.full(len(ids), NOISE, dtype=int)
    unchanged = np.zeros(len(ids), dtype=bool)
    for i, person in enumerate(ids):
        row = rows.get(person)
        if row is not None and np.allclose(embeddings[i], previous.embeddings[row], rtol=0, atol=SAME_VECTOR):
            labels[i], unchanged[i] = previous.labels[row], True
    return Carried(labels, np.flatnonzero(~unchanged))


def held_partition(carried: Carried, fresh: np.ndarray, embeddings: np.ndarray,
                   min_size: int) -> tuple[np.ndarray, bool]:
    """(labels, held): the ``carried`` groups (changed people voted in, groups smaller than
    ``min_size`` dissolved) unless the ``fresh`` ones separate better by more than
    ``PARTITION_MARGIN``; ``held`` says which was kept."""
    kept = adopted(carried.labels, embeddings, carried.changed)
    groups, sizes = np.unique(kept[kept != NOISE], return_counts=True)
    kept[np.isin(kept, groups[sizes < min_size])] = NOISE
    vectors = np.asarray(embeddings, dtype=np.float64)
    if separation(np.asarray(fresh), vectors) - separation(kept, vectors) > PARTITION_MARGIN:
        return np.asarray(fresh), False
    return kept, True


def adopted(labels: np.ndarray, embeddings: np.ndarray, newcomers) -> np.ndarray:
    """``labels`` with each of ``newcomers`` in no group (``NOISE``) put in the group of
    more than half of their ``VOTE_K`` nearest others by cosine (O(n·d) a newcomer)."""
    labels = np.array(labels)
    unit = normalised(embeddings)
    for row in np.asarray(newcomers, dtype=np.int64):
        if labels[row] != NOISE or len(unit) <= VOTE_K:
            continue
        similarity = unit @ unit[row]
        similarity[row] = -np.inf
        nearest = np.argpartition(-similarity, VOTE_K)[:VOTE_K]
        groups, counts = np.unique(labels[nearest][labels[nearest] != NOISE], return_counts=True)
        if len(counts) and counts.max() > VOTE_K // 2:
            labels[row] = groups[np.argmax(counts)]
    return labels
