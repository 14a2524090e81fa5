"""The quality measures of a map against known labels, as plain functions of arrays.

- ``label_agreement``: adjusted Rand index and NMI of the clusters against the labels,
  with noise (-1) counted as one group of its own, or with the noise points left out.
- ``noise_fraction``: the share of people in no cluster.
- ``precision_at_k``: the share of a person's k nearest others (by a distance) that
  share their label, averaged over people; people whose label is a catch-all ("general",
  "none") are not asked (their neighbours can't share a meaningful label) but can be
  neighbours. ``neighbour_precision`` is the same for any given ranking (the bot's).
- ``keyword_diversity``: unique keywords among all clusters' top 10, over all of them.
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score, pairwise_distances

NOISE = -1


def label_agreement(labels_true, labels_pred, noise: str = "group") -> tuple[float, float]:
    """(ARI, NMI); ``noise`` "group" counts noise as one group, "drop" leaves it out.

    With "drop" and fewer than two clustered people the scores are NaN (undefined).
    """
    true, pred = np.asarray(labels_true), np.asarray(labels_pred)
    if noise == "drop":
        keep = pred != NOISE
        true, pred = true[keep], pred[keep]
        if len(pred) < 2:
            return float("nan"), float("nan")
    elif noise != "group":
        raise ValueError(f"noise must be 'group' or 'drop', not {noise!r}")
    return float(adjusted_rand_score(true, pred)), float(normalized_mutual_info_score(true, pred))


def noise_fraction(labels_pred) -> float:
    """The share of people labelled noise (0 for nobody)."""
    pred = np.asarray(labels_pred)
    return float(np.mean(pred == NOISE)) if len(pred) else 0.0


def precision_at_k(points, labels, k: int = 5, metric: str = "cosine", catch_all=()) -> float:
    """Mean share of each asked person's ``k`` nearest others (by ``metric``) with their label.

    People whose label is in ``catch_all`` are not asked; ties go to the earlier person.
    """
    points = np.asarray(points, dtype=np.float64)
    if len(points) < 2:
        return float("nan")
    distances = pairwise_distances(points, metric=metric)
    np.fill_diagonal(distances, np.inf)  # nobody is their own neighbour
    nearest = np.argsort(distances, axis=1, kind="stable")[:, :min(k, len(points) - 1)]
    return neighbour_precision(nearest, labels, catch_all)


def neighbour_precision(nearest, labels, catch_all=()) -> float:
    """Mean share of each asked person's neighbours (row i of ``nearest``) with their label.

    ``nearest`` is any ranking's (n, k) indices, e.g. ``pipeline.neighbours.rank``'s.
    """
    nearest, labels = np.asarray(nearest), np.asarray(labels)
    asked = np.flatnonzero(~np.isin(labels, list(catch_all)))
    if len(asked) == 0 or nearest.size == 0:
        return float("nan")
    return float(np.mean(labels[nearest[asked]] == labels[asked][:, None]))


def keyword_diversity(keywords_by_cluster: dict, top: int = 10) -> float:
    """Unique keywords among every cluster's first ``top``, over their total (NaN if none)."""
    words = [w.lower() for kws in keywords_by_cluster.values() for w in list(kws)[:top]]
    return len(set(words)) / len(words) if words else float("nan")
