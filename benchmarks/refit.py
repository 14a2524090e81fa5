"""Stability of full refits: one person's introduction edited to another group's topic, or
removed, and the map fitted again in full (``build_map(..., previous=..., refit=True)``).

For each fictional batch (one UMAP seed), ``count`` people are drawn; each is edited (their
text becomes that of a random member of another intended group) and, separately, removed.
A trial counts the groups whose membership changed apart from that person's own
(``metrics.refit_changes``: groups matched by Jaccard >= 0.5, any person gained or lost)
and the change in the number of groups. It passes when at most one other group changed
and the number of groups moved by at most one; the target is 95 % of trials. Every trial
runs twice on the same samples: with the refit stabilisation (``PipelineParams.stable_refit``,
the default) and without it (the code before it), so one run prints old beside new.
"""

from __future__ import annotations

import sys
from dataclasses import replace

import numpy as np

from benchmarks import metrics
from benchmarks.common import verdict

MIN_STABLE_SHARE = 0.95
MODES = {"new": True, "old": False}
COLUMNS = ["batch", "code", "trials", "stable share", "mean changed", "max changed", "mean |d groups|"]


def groups_of(result) -> list[set]:
    """The members (person ids) of each group of a map."""
    ids = [d.person_id for d in result.people]
    return [{ids[i] for i in cluster.members} for cluster in result.clusters.values()]


def edited(docs: list, row: int, rng) -> list:
    """``docs`` with person ``row``'s text replaced by that of a member of another intended group."""
    others = [d for d in docs if d.extra.get("group") != docs[row].extra.get("group")]
    text = others[int(rng.integers(len(others)))].text
    return [replace(d, text=text, raw=text) if i == row else d for i, d in enumerate(docs)]


def trial(before, docs: list, person: str, params, embedder, cache) -> tuple[int, int]:
    """(groups changed apart from ``person``'s, change in the number of groups) of one full refit."""
    from pipeline.build import build_map

    after = build_map(docs, params, embedder, cache, previous=before, refit=True)
    changed = metrics.refit_changes(groups_of(before), groups_of(after), person)
    return changed, abs(len(after.clusters) - len(before.clusters))


def batch_trials(docs: list, count: int, stable: bool, embedder, cache, seed: int) -> list[tuple[int, int]]:
    """Every trial (an edit and a removal for each of ``count`` drawn people) of one batch."""
    from pipeline.build import build_map
    from pipeline.params import PipelineParams

    params = PipelineParams(random_state=seed, stable_refit=stable)
    rng = np.random.default_rng(seed)
    rows = rng.choice(len(docs), size=min(count, len(docs)), replace=False)
    before = build_map(docs, params, embedder, cache, refit=True)  # the map as the bot last drew it
    results = []
    for row in rows:
        person = docs[row].person_id
        for changed_docs in (edited(docs, row, rng), docs[:row] + docs[row + 1:]):
            results.append(trial(before, changed_docs, person, params, embedder, cache))
    return results


def refit_tables(batches: dict[str, list], count: int, embedder, cache, seed: int = 0) -> tuple[list[list], list[list]]:
    """(measure rows, target rows): each batch with the new and the old code, and over all."""
    rows, shares = [], {}
    for code, stable in MODES.items():
        every = []
        for name, docs in batches.items():
            print(f"  refit {name} ({code})", file=sys.stderr, flush=True)
            found = batch_trials(docs, count, stable, embedder, cache, seed)
            every += found
            rows.append(_row(name, code, found))
        rows.append(_row("all batches", code, every))
        shares[code] = rows[-1][3]
    targets = [[f"refit: <=1 other group changed, groups +-1 ({code})", "batches", "all", share,
                MIN_STABLE_SHARE, verdict(share, MIN_STABLE_SHARE, at_most=False)] for code, share in shares.items()]
    return rows, targets


def _row(name: str, code: str, found: list[tuple[int, int]]) -> list:
    changed = np.array([c for c, _ in found])
    delta = np.array([d for _, d in found])
    stable = float(np.mean((changed <= 1) & (delta <= 1)))
    return [name, code, len(found), stable, float(changed.mean()), int(changed.max()), float(delta.mean())]
