"""Clustering: HDBSCAN on the ~5-D UMAP space, honest about maps too small for groups.

HDBSCAN's tree is cut both ways ("eom" and "leaf") and the cut whose groups stand apart
better in the full embedding space is kept (the rule and its numbers are in
``pipeline.adaptive``).

Labels are 0-based with -1 for noise (people in no group: grey on the map, but they keep
their neighbours and their place). ``notice_`` is a sentence for users when no groups
could be formed, else None.
"""

from __future__ import annotations

import warnings

import numpy as np

from pipeline.adaptive import (MIN_PEOPLE_FOR_GROUPS, SELECTIONS, adaptive_min_cluster_size, adaptive_min_samples,
                               choose_selection)
from pipeline.result import NOISE

TOO_FEW = (
    "Too few people to form groups yet ({n}); the map shows everyone, "
    "groups appear from {minimum} people on."
)
NO_GROUPS = "No clear groups stand out among these {n} people yet; everyone is shown ungrouped."


class Clusterer:
    """HDBSCAN with adaptive sizes and selection, and a fallback when it finds nothing.

    ``min_cluster_size`` / ``min_samples`` None choose from the number of points;
    ``selection`` None tries every cut of ``SELECTIONS`` and keeps the one
    ``choose_selection`` prefers ("eom" or "leaf" forces one). When HDBSCAN calls everyone
    noise, it is retried with smaller groups allowed (halving ``min_cluster_size`` down to
    2, ``min_samples`` 1) before giving up with a notice. ``attempts_`` lists the
    (min_cluster_size, min_samples, selection) tried; ``selection_`` is the cut kept.
    """

    def __init__(self, min_cluster_size=None, min_samples=None, selection=None, random_state=42):
        self.min_cluster_size = min_cluster_size
        self.min_samples = min_samples
        self.selection = selection
        self.random_state = random_state  # HDBSCAN is deterministic; kept for the stage contract

    def fit_predict(self, X, embeddings=None) -> np.ndarray:
        """Labels (0-based, -1 noise) for the rows of ``X``; also in ``labels_``.

        ``embeddings`` (the people's full vectors, row for row) judge between the cuts;
        without them ``X`` does.
        """
        X = np.asarray(X, dtype=np.float64)
        n = X.shape[0]
        self.notice_, self.attempts_, self.selection_ = None, [], None
        if n < MIN_PEOPLE_FOR_GROUPS:
            self.labels_ = np.full(n, NOISE, dtype=int)
            self.notice_ = TOO_FEW.format(n=n, minimum=MIN_PEOPLE_FOR_GROUPS) if n else None
            return self.labels_
        selections = (self.selection,) if self.selection else SELECTIONS
        cuts = {selection: self._fit(X, selection) for selection in selections}
        self.selection_ = choose_selection(cuts, X if embeddings is None else embeddings)
        self.labels_ = cuts[self.selection_]
        if np.all(self.labels_ == NOISE):
            self.notice_ = NO_GROUPS.format(n=n)
        return self.labels_

    def _fit(self, X: np.ndarray, selection: str) -> np.ndarray:
        """The labels of one cut, with smaller groups tried while everyone is noise."""
        for size, samples in self._schedule(len(X)):
            self.attempts_.append((size, samples, selection))
            labels = self._hdbscan(X, size, samples, selection)
            if np.any(labels != NOISE):
                break
        return labels

    def _schedule(self, n: int):
        """(min_cluster_size, min_samples) to try: the chosen ones, then smaller groups."""
        size = min(self.min_cluster_size or adaptive_min_cluster_size(n), n)
        samples = min(self.min_samples or adaptive_min_samples(n), size)
        yield max(2, size), max(1, samples)
        while size > 2:
            size = max(2, size // 2)
            yield size, 1

    def _hdbscan(self, X: np.ndarray, size: int, samples: int, selection: str) -> np.ndarray:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from hdbscan import HDBSCAN

            model = HDBSCAN(
                min_cluster_size=size,
                min_samples=samples,
                cluster_selection_method=selection,
            )
            return np.asarray(model.fit_predict(X), dtype=int)
