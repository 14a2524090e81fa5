"""The quality measures of a map against known labels, as plain functions of arrays.

- ``label_agreement``: adjusted Rand index and NMI of the clusters against the labels,
  with noise (-1) counted as one group of its own, or with the noise points left out.
- ``noise_fraction``: the share of people in no cluster.
- ``precision_at_k``: the share of a person's k nearest others (by a distance) that
  share their label, averaged over people; people whose label is a catch-all ("general",
  "none") are not asked (their neighbours can't share a meaningful label) but can be
  neighbours. ``neighbour_precision`` is the same for any given ranking (the bot's).
- ``keyword_diversity``: unique keywords among all clusters' top 10, over all of them.
- ``phrase_score``: the share of shown keywords that a member wrote word for word (as
  adjacent words, not across punctuation), that are not part of another keyword shown
  for the same cluster ("proof" beside "proof assistant"), and that are not a fragment of
  a longer phrase the members wrote: one a word longer, written (in the singular or the
  plural) by at least two members and by at least half of those who wrote the keyword
  ("operating" when they wrote "operating systems"). Phrases are runs of content words
  (``content_runs``).
- ``changed_groups``: how many groups of one map lost or gained more than one of their
  people in another map of the same people (plus some), for the stability measure.
"""

from __future__ import annotations

import re

import numpy as np
from scipy.optimize import linear_sum_assignment
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


_BREAK = re.compile(r"[.,;:!?()\[\]{}\"|/…—–\n\r\t]+|\s[-*]\s")
_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)?(?:\+\+|#)?")


def word_runs(text: str) -> list[str]:
    """``text``'s pieces between punctuation, each as its lowercase words joined by spaces."""
    runs = (" ".join(_WORD.findall(piece.lower())).replace("’", "'") for piece in _BREAK.split(text))
    return [f" {run} " for run in runs if run]


def written(phrase: str, runs: list[str]) -> bool:
    """Whether ``phrase`` stands word for word in one of ``runs`` (``word_runs`` of a text)."""
    needle = f" {' '.join(_WORD.findall(phrase.lower()))} "
    return needle.strip() != "" and any(needle in run for run in runs)


def is_fragment(phrase: str, others) -> bool:
    """Whether ``phrase``'s words stand, in order, inside a longer one of ``others``."""
    needle = f" {phrase.lower()} "
    return any(needle in f" {o.lower()} " and o.lower() != phrase.lower() for o in others)


def content_runs(text: str) -> list[list[str]]:
    """``text``'s runs of content words in the singular, cut at punctuation and stop words.

    The stop words are ``pipeline.stopwords.STOP_WORDS`` (filler such as "learn" must cut a
    phrase); the rest is done here, not by the keyword code this measures.
    """
    from pipeline.stopwords import STOP_WORDS

    runs = []
    for piece in _BREAK.split(text.lower()):
        run: list[str] = []
        for word in (w.replace("’", "'") for w in _WORD.findall(piece)):
            if len(word) > 1 and not word.isdigit() and word not in STOP_WORDS:
                run.append(word[:-1] if len(word) > 3 and word.endswith("s") and not word.endswith("ss") else word)
            elif run:
                runs.append(run)
                run = []
        runs += [run] if run else []
    return runs


def fragment_of_written(phrase: str, texts: list[str]) -> bool:
    """Whether ``phrase`` is mostly written as part of a phrase one word longer (see above)."""
    key = content_runs(phrase)
    key = key[0] if len(key) == 1 else phrase.lower().split()
    size, writers, longer = len(key), 0, {}
    for text in texts:
        found = set()
        for run in content_runs(text):
            for i in (i for i in range(len(run) - size + 1) if run[i:i + size] == key):
                found.add(None)
                found.update(" ".join(run[a:b]) for a, b in ((i - 1, i + size), (i, i + size + 1))
                             if a >= 0 and b <= len(run))
        writers += None in found
        for extended in found - {None}:
            longer[extended] = longer.get(extended, 0) + 1
    return any(count >= max(2, writers / 2) for count in longer.values())


def phrase_score(keywords_by_cluster: dict, texts_by_cluster: dict, top: int = 6) -> float:
    """Share of every cluster's first ``top`` keywords that are whole phrases a member wrote.

    NaN when no cluster has keywords.
    """
    good = total = 0
    for cluster, words in keywords_by_cluster.items():
        shown, texts = list(words)[:top], texts_by_cluster.get(cluster, [])
        runs = [run for text in texts for run in word_runs(text)]
        good += sum(written(w, runs) and not is_fragment(w, shown) and not fragment_of_written(w, texts)
                    for w in shown)
        total += len(shown)
    return good / total if total else float("nan")


def changed_groups(before, after, keep: int | None = None) -> int:
    """Groups of ``before`` whose people (the first ``keep`` of ``after``) changed by more than one.

    Each group of ``before`` is matched one-to-one to the group of ``after`` sharing most
    people; a group is changed when the people it lost plus the people it gained
    (among the first ``keep`` people, i.e. those in both maps) are more than one. A group
    of ``after`` matched to none of ``before`` counts as changed when it holds more than
    one of those people. Noise (-1) is not a group.
    """
    before = np.asarray(before)
    after = np.asarray(after)[: len(before) if keep is None else keep]
    old = [set(np.flatnonzero(before == g)) for g in np.unique(before[before != NOISE])]
    new = [set(np.flatnonzero(after == g)) for g in np.unique(after[after != NOISE])]
    if not old or not new:
        return sum(len(g) > 1 for g in old + new)
    overlap = np.array([[len(a & b) for b in new] for a in old])
    rows, cols = linear_sum_assignment(overlap, maximize=True)
    pairs = dict(zip(rows, cols))
    changed = sum(len(old[i] ^ new[pairs[i]]) > 1 if i in pairs else len(old[i]) > 1 for i in range(len(old)))
    unmatched = set(range(len(new))) - set(cols)
    return changed + sum(len(new[j]) > 1 for j in unmatched)


def refit_changes(before: list[set], after: list[set], person, min_jaccard: float = 0.5) -> int:
    """Groups (sets of person ids) that changed between two maps, apart from ``person``'s own.

    ``person`` (the one who edited or left) is taken out of every group first. Groups are
    matched one-to-one by Jaccard overlap (``linear_sum_assignment``), a pair counting only
    from ``min_jaccard`` on. A group of ``before`` other than ``person``'s is changed when
    it has no match or its match holds anyone else; a group of ``after`` other than
    ``person``'s with no match (a new group) is changed too.
    """
    own = lambda groups: [person in g for g in groups]  # noqa: E731
    before_own, after_own = own(before), own(after)
    old = [set(g) - {person} for g in before]
    new = [set(g) - {person} for g in after]
    pairs: dict[int, int] = {}
    if old and new:
        overlap = np.array([[len(a & b) / len(a | b) if a | b else 0.0 for b in new] for a in old])
        rows, cols = linear_sum_assignment(overlap, maximize=True)
        pairs = {r: c for r, c in zip(rows, cols) if overlap[r, c] >= min_jaccard}
    changed = sum(1 for i, group in enumerate(old)
                  if not before_own[i] and (i not in pairs or new[pairs[i]] != group))
    matched = set(pairs.values())
    return changed + sum(1 for j in range(len(new)) if not after_own[j] and j not in matched and new[j])
