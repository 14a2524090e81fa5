"""Stability under small changes: one person more in a 40-person batch.

The base is a tuned fictional batch of 40 people (``BASE``). Each trial adds one person
drawn from the other tuned batch and the demo (people who may or may not fit an existing
group), rebuilds the map with the same parameters and seed, and counts the groups whose
people changed by more than one (``metrics.changed_groups``; the added person does not
count). Seeds cycle through ``SEEDS`` so that one lucky layout does not decide. A trial
passes when at most one group changed; the target is 95 % of trials.
"""

from __future__ import annotations

import sys

import numpy as np

from benchmarks import metrics
from benchmarks.common import read_batch, verdict

BASE = "spring.csv"
OTHERS = ("summer.csv",)
SEEDS = 5
MIN_STABLE_SHARE = 0.95
COLUMNS = ["batch", "trials", "<=1 group changed", "mean changed", "max changed"]


def pool_of_added(batch_dir, base_docs) -> list:
    """People who may be added: the other tuned batch and the demo, not already in the base."""
    from pipeline.demo import load_demo

    taken = {d.person_id for d in base_docs}
    people = [d for name in OTHERS for d in read_batch(batch_dir / name)] + load_demo()
    return [d for d in people if d.person_id not in taken]


def labels_of(docs, seed: int, embedder, cache) -> np.ndarray:
    from pipeline.build import build_map
    from pipeline.params import PipelineParams

    return np.asarray(build_map(docs, PipelineParams(random_state=seed), embedder, cache).labels)


def trials(base_docs, pool, count: int, embedder, cache, seed: int = 0) -> list[int]:
    """The number of changed groups in each of ``count`` trials."""
    rng = np.random.default_rng(seed)
    bases = {s: labels_of(base_docs, seed + s, embedder, cache) for s in range(min(SEEDS, count))}
    changed = []
    for trial in range(count):
        print(f"  stability trial {trial + 1}/{count}", file=sys.stderr, flush=True)
        added = pool[int(rng.integers(len(pool)))]
        s = trial % len(bases)
        after = labels_of([*base_docs, added], seed + s, embedder, cache)
        changed.append(metrics.changed_groups(bases[s], after, keep=len(base_docs)))
    return changed


def stability_tables(batch_dir, count: int, embedder, cache, seed: int = 0) -> tuple[list[list], list[list]]:
    """(measure rows, target rows) of ``count`` trials on the base batch."""

    base_docs = read_batch(batch_dir / BASE)
    changed = np.asarray(trials(base_docs, pool_of_added(batch_dir, base_docs), count, embedder, cache, seed))
    share = float(np.mean(changed <= 1))
    row = [f"batch/{BASE.removesuffix('.csv')}+1", count, share, float(changed.mean()), int(changed.max())]
    target = ["one added person: <=1 group changed", row[0], str(count), share, MIN_STABLE_SHARE,
              verdict(share, MIN_STABLE_SHARE, at_most=False)]
    return [row], [target]
