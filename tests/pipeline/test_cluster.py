"""Clusterer: HDBSCAN with adaptive sizes, honest notices, and a fallback when it finds nothing."""

import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score

from pipeline.adaptive import MIN_PEOPLE_FOR_GROUPS
from pipeline.cluster import Clusterer
from pipeline.result import NOISE


def _blobs(sizes, dim=5, spread=0.3, seed=0):
    """Gaussian blobs far apart, and their true labels."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=10, size=(len(sizes), dim))
    X = np.vstack([c + rng.normal(scale=spread, size=(s, dim)) for c, s in zip(centres, sizes)])
    return X, np.repeat(np.arange(len(sizes)), sizes)


@pytest.mark.parametrize("n", range(MIN_PEOPLE_FOR_GROUPS))
def test_too_few_people_are_all_noise_with_a_notice(n, assert_quiet):
    """Below the minimum everyone is noise, and (for n > 0) the notice says why and from when."""
    clusterer = Clusterer()
    with assert_quiet():
        labels = clusterer.fit_predict(np.random.default_rng(0).normal(size=(n, 5)))
    assert labels.shape == (n,) and np.all(labels == NOISE)
    assert (clusterer.notice_ is not None) == (n > 0)
    if n:
        assert str(n) in clusterer.notice_ and str(MIN_PEOPLE_FOR_GROUPS) in clusterer.notice_


@pytest.mark.parametrize("sizes", [(10, 10, 10), (25, 20, 15, 8), (6, 6)])
def test_separated_groups_are_found_with_little_noise(sizes, assert_quiet):
    """Well-separated groups are recovered (ARI ≥ 0.9) and at most a fifth is noise."""
    X, truth = _blobs(sizes)
    with assert_quiet():
        labels = Clusterer().fit_predict(X)
    assert adjusted_rand_score(truth, labels) >= 0.9
    assert np.mean(labels == NOISE) <= 0.2


def test_labels_are_zero_based_with_noise_minus_one():
    """Cluster labels are 0..k-1, noise is -1."""
    labels = Clusterer().fit_predict(_blobs((12, 12, 12))[0])
    found = sorted(set(labels) - {NOISE})
    assert found == list(range(len(found))) and len(found) >= 2


def test_all_noise_retries_with_smaller_groups():
    """When the configured group size finds nothing, smaller sizes are tried before giving up."""
    X, truth = _blobs((8, 8, 8))
    clusterer = Clusterer(min_cluster_size=24)
    labels = clusterer.fit_predict(X)
    assert len(clusterer.attempts_) > 1
    assert clusterer.notice_ is None
    assert adjusted_rand_score(truth, labels) >= 0.9


def test_structureless_input_is_honest():
    """Identical people: whatever HDBSCAN does, a map with no groups carries a notice."""
    clusterer = Clusterer()
    labels = clusterer.fit_predict(np.zeros((10, 5)))
    assert labels.shape == (10,)
    assert (clusterer.notice_ is not None) == bool(np.all(labels == NOISE))


def test_rerun_gives_identical_labels():
    """Clustering the same points twice gives the same labels."""
    X, _ = _blobs((15, 9, 12), seed=3)
    assert np.array_equal(Clusterer().fit_predict(X), Clusterer().fit_predict(X))


# ---- the cut of HDBSCAN's tree (issue 12) ----------------------------------------------
def _directions(groups=4, size=5, seed=0):
    """``groups`` tight bundles of unit vectors around orthogonal directions, and their labels."""
    rng = np.random.default_rng(seed)
    X = np.repeat(np.eye(16)[:groups], size, axis=0) + rng.normal(scale=0.02, size=(groups * size, 16))
    return X / np.linalg.norm(X, axis=1, keepdims=True), np.repeat(np.arange(groups), size)


def test_the_cut_whose_groups_stand_apart_is_kept():
    """Four bundles: the cut that keeps them apart beats one that merges them in pairs."""
    from pipeline.adaptive import choose_selection

    X, truth = _directions()
    assert choose_selection({"eom": truth // 2, "leaf": truth}, X) == "leaf"
    assert choose_selection({"eom": truth, "leaf": truth // 2}, X) == "eom"


def test_a_cut_that_greys_out_people_must_separate_the_rest_better():
    """Noise counts 0: a perfect cut of half the people loses to a perfect cut of everyone,
    and a tie (or no groups at all) goes to "eom"."""
    from pipeline.adaptive import choose_selection

    X, truth = _directions()
    half = np.where(truth < 2, truth, NOISE)
    assert choose_selection({"eom": truth, "leaf": half}, X) == "eom"
    assert choose_selection({"eom": half, "leaf": truth}, X) == "leaf"
    assert choose_selection({"eom": truth, "leaf": truth.copy()}, X) == "eom"
    assert choose_selection({"eom": np.full(20, NOISE), "leaf": np.zeros(20, int)}, X) == "eom"


@pytest.mark.model
def test_a_batch_of_small_groups_is_drawn_in_small_groups(real_embedder):
    """The winter fictional batch (38 people, 9 intended groups of 4–5, neighbouring interests):
    the bundled model and the default parameters find groups of 3–6 and agree with the
    intended ones, over five seeds (mean ARI 0.67, 93 % of groups of 3–6; "eom" alone, which
    merges them: 0.42 and 63 %), and leave at most 15 % grey.

    Over seeds, not one: a single UMAP run is chaotic in the last bits of its input, so the
    torch and onnx backends' vectors (cosine 1.000000) give ARI 0.80 and 0.55 at seed 42 and
    the same mean (0.66, 0.67) over seeds 0–4."""
    from pathlib import Path

    from pipeline.build import build_map
    from pipeline.csv_import import read_csv
    from pipeline.params import PipelineParams

    docs = read_csv(Path(__file__).parents[2] / "benchmarks" / "data" / "winter.csv")
    truth = [d.extra["group"] for d in docs]
    aris, sizes, grey = [], [], []
    for seed in range(5):
        result = build_map(docs, params=PipelineParams(random_state=seed), embedder=real_embedder)
        aris.append(adjusted_rand_score(truth, result.labels))
        sizes += [len(cluster.members) for cluster in result.clusters.values()]
        grey.append(result.noise_count)
    small = np.mean([3 <= size <= 6 for size in sizes])
    assert np.mean(aris) >= 0.55 and small >= 0.8, (aris, sizes)
    assert max(grey) <= 0.15 * len(docs), grey
