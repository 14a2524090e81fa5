"""Stable cluster numbers: a group that persists across rebuilds keeps its number.

People remember "cluster 3". After a rebuild, each new cluster is matched to the previous
cluster it shares most members with (by Jaccard overlap of person ids, one-to-one, with
``scipy.optimize.linear_sum_assignment``); a matched cluster takes the old number, an
unmatched one a number greater than any ever used (the high-water mark is kept in
``MapResult.params["max_cluster_number"]``), so a number never changes meaning.
A match needs a Jaccard overlap of at least ``MIN_OVERLAP``. The first numbering is by size, largest group first. Noise stays -1.
"""

from __future__ import annotations

import numpy as np

from pipeline.result import NOISE, MapResult

HIGH_WATER_KEY = "max_cluster_number"
# below this Jaccard overlap a new group is a different group, not the old one changed
MIN_OVERLAP = 0.2


def renumber(labels, person_ids: list[str], previous: MapResult | None = None) -> np.ndarray:
    """Labels numbered from 1 (noise -1), keeping the numbers of ``previous`` where groups persist."""
    labels = np.asarray(labels, dtype=int)
    new_groups = _groups(labels, person_ids)
    old_groups = _previous_groups(previous)
    mapping = _match(new_groups, old_groups)
    next_number = max([high_water_mark(previous), *old_groups.keys()]) + 1
    for label in new_groups:  # largest first: deterministic numbers for new groups
        if label not in mapping:
            mapping[label] = next_number
            next_number += 1
    out = np.full(labels.shape, NOISE, dtype=int)
    for label, number in mapping.items():
        out[labels == label] = number
    return out


def high_water_mark(result: MapResult | None) -> int:
    """The greatest cluster number ``result`` or any map before it has used (0 if none)."""
    if result is None:
        return 0
    numbers = [int(x) for x in np.asarray(result.labels) if x != NOISE] + list(result.clusters)
    return max([int(result.params.get(HIGH_WATER_KEY, 0) or 0), *numbers])


def _groups(labels: np.ndarray, person_ids: list[str]) -> dict[int, set[str]]:
    """Members of each cluster label, largest cluster first (ties: smallest label)."""
    groups = {
        int(label): {person_ids[i] for i in np.flatnonzero(labels == label)}
        for label in np.unique(labels)
        if label != NOISE
    }
    return dict(sorted(groups.items(), key=lambda item: (-len(item[1]), item[0])))


def _previous_groups(previous: MapResult | None) -> dict[int, set[str]]:
    if previous is None:
        return {}
    ids = [doc.person_id for doc in previous.people]
    return _groups(np.asarray(previous.labels, dtype=int), ids)


def _match(new: dict[int, set[str]], old: dict[int, set[str]]) -> dict[int, int]:
    """One-to-one new label → old number maximising Jaccard overlap (at least MIN_OVERLAP)."""
    if not new or not old:
        return {}
    from scipy.optimize import linear_sum_assignment  # here: a first map never needs it (0.5 s to import)

    new_keys, old_keys = list(new), list(old)
    overlap = np.array([[_jaccard(new[a], old[b]) for b in old_keys] for a in new_keys])
    rows, cols = linear_sum_assignment(overlap, maximize=True)
    return {new_keys[r]: old_keys[c] for r, c in zip(rows, cols) if overlap[r, c] >= MIN_OVERLAP}


def _jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a or b else 0.0
