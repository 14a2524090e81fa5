"""Reducer and the adaptive parameters: every size from 0 up works, quietly and reproducibly."""

import numpy as np
import pytest

from pipeline.adaptive import adaptive_params
from pipeline.embed import HashingEmbedder
from pipeline.params import PipelineParams
from pipeline.reduce import Reducer


def _points(n, dim=32, seed=0):
    return np.random.default_rng(seed).normal(size=(n, dim)).astype(np.float32)


@pytest.mark.parametrize("n", [0, 1, 2, 3, 4, 5, 6, 7, 12])
@pytest.mark.parametrize("components", [2, 3, 5])
def test_any_size_gives_finite_coordinates_without_warnings(n, components, assert_quiet):
    """Every n (including the ones UMAP cannot handle) gives (n, components) finite coordinates."""
    with assert_quiet():
        coords = Reducer(n_components=components).fit_transform(_points(n))
    assert coords.shape == (n, components)
    assert np.all(np.isfinite(coords))


def test_one_person_sits_at_the_origin():
    """A single point is placed at the origin."""
    assert np.all(Reducer().fit_transform(_points(1)) == 0)


@pytest.mark.parametrize("n", [2, 3, 4])
def test_tiny_layout_keeps_people_apart(n):
    """A few different people get different places (no one hidden under someone else)."""
    coords = Reducer().fit_transform(_points(n))
    distances = np.linalg.norm(coords[:, None] - coords[None], axis=-1)
    assert distances[~np.eye(n, dtype=bool)].min() > 1e-3


def test_identical_people_still_get_places():
    """All-identical embeddings fall back to a circle, so every point is visible."""
    coords = Reducer().fit_transform(np.ones((4, 8), np.float32))
    assert len({tuple(np.round(c, 4)) for c in coords}) == 4


def test_seeded_rerun_is_identical():
    """The same seed gives the same UMAP layout."""
    X = _points(40)
    assert np.array_equal(Reducer(random_state=7).fit_transform(X), Reducer(random_state=7).fit_transform(X))


def test_umap_keeps_topic_groups_apart(topic_documents):
    """On real-sized input UMAP is used and topic groups stay closer within than between."""
    from sklearn.metrics import silhouette_score

    docs = topic_documents(per_group=12)
    reducer = Reducer()
    coords = reducer.fit_transform(HashingEmbedder().encode([d.text for d in docs]))
    assert reducer.method_ == "umap"
    assert silhouette_score(coords, [d.extra["group"] for d in docs]) > 0.3


@pytest.mark.parametrize("n", [0, 1, 2, 3, 5, 8, 20, 60, 150, 3000])
def test_adaptive_params_fit_every_size(n):
    """Resolved parameters are always usable for n people (below n, at least 1 or 2)."""
    p = adaptive_params(n, PipelineParams())
    assert 1 <= p["n_neighbors"] <= max(1, n - 1) and p["n_neighbors"] <= 30
    assert 1 <= p["cluster_components"] <= max(1, n - 2) and p["cluster_components"] <= 5
    assert 2 <= p["min_cluster_size"] <= max(2, n)
    assert 1 <= p["min_samples"] <= p["min_cluster_size"]


def test_adaptive_group_size_grows_with_people():
    """A community of thousands needs bigger groups than a batch."""
    sizes = [adaptive_params(n)["min_cluster_size"] for n in (20, 60, 150, 3000)]
    assert sizes == sorted(sizes) and sizes[-1] > sizes[0]


def test_explicit_params_win_but_are_capped():
    """A configured value is used as given, except where n makes it impossible."""
    params = PipelineParams(n_neighbors=12, min_cluster_size=7, cluster_components=8)
    assert adaptive_params(100, params)["n_neighbors"] == 12
    assert adaptive_params(100, params)["min_cluster_size"] == 7
    assert adaptive_params(6, params)["cluster_components"] == 4


def test_input_umap_cannot_lay_out_falls_back(monkeypatch):
    """If UMAP fails on degenerate input, the PCA layout is used instead of crashing."""
    import pipeline.reduce as reduce

    class Failing:
        def __init__(self, **kwargs):
            pass

        def fit_transform(self, X):
            raise ValueError("degenerate")

    monkeypatch.setattr(reduce, "_umap_class", lambda: Failing)
    reducer = Reducer()
    coords = reducer.fit_transform(_points(12))
    assert reducer.method_ == "pca" and coords.shape == (12, 2) and np.all(np.isfinite(coords))


def test_umap_fit_keeps_compiled_layout_on_disk():
    """After a UMAP fit, the serial layout optimiser is cached on disk and its parallel twin is not."""
    from numba.core.caching import FunctionCache
    from umap import layouts

    reducer = Reducer()
    reducer.fit_transform(_points(20))
    assert reducer.method_ == "umap"
    assert isinstance(layouts._nb_optimize_layout_euclidean_single_epoch._cache, FunctionCache)
    assert not isinstance(layouts._nb_optimize_layout_euclidean_single_epoch_parallel._cache, FunctionCache)


def test_function_numba_cannot_cache_stays_uncached():
    """A jitted function with no source file (so no cache place) is left uncached, without an error."""
    import numba

    from pipeline.reduce import _try_enable

    namespace = {}
    exec("def double(x):\n    return 2 * x\n", namespace)
    jitted = numba.njit(namespace["double"])
    assert _try_enable(jitted) == 0 and jitted(21) == 42


def test_compiled_umap_functions_are_kept_in_batchvizs_cache_folder(tmp_path):
    """A fresh process keeps UMAP's compiled functions under $XDG_CACHE_HOME/batchviz/numba,
    through NUMBA_CACHE_DIR (set before numba is imported), not beside the library."""
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    code = ("import numpy as np; from pipeline.reduce import Reducer; "
            "r = Reducer(); r.fit_transform(np.random.default_rng(0).normal(size=(20, 8))); "
            "import os; print(r.method_, os.environ['NUMBA_CACHE_DIR'])")
    env = {"PYTHONPATH": str(root), "XDG_CACHE_HOME": str(tmp_path), "HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr
    folder = tmp_path / "batchviz" / "numba"
    assert done.stdout.split() == ["umap", str(folder)]
    assert any(folder.glob("umap_*/*.nbi")), "no compiled UMAP function index in the cache folder"


def test_new_points_are_placed_by_their_exact_cosine_neighbours():
    """``transform`` after a UMAP fit: UMAP is handed exact cosine neighbours for new points
    (its own search index is not built), and a new point lands among its group."""
    from pipeline.reduce import ExactCosineIndex, Reducer

    rng = np.random.default_rng(5)
    centres = rng.normal(size=(3, 32))
    X = np.vstack([centres[i % 3] + 0.2 * rng.normal(size=32) for i in range(63)]).astype(np.float32)
    indices, distances = ExactCosineIndex(X[:60]).query(X[60:], 4)
    unit = X / np.linalg.norm(X, axis=1, keepdims=True)
    brute = np.argsort(-(unit[60:] @ unit[:60].T), axis=1)[:, :4]
    assert np.array_equal(indices, brute) and np.all(np.diff(distances, axis=1) >= 0)
    reducer = Reducer(n_components=2, n_neighbors=8)
    fitted = reducer.fit_transform(X[:60]).copy()
    placed = reducer.transform(X[60:])
    assert np.array_equal(reducer.embedding_, fitted)
    for row, point in zip(range(60, 63), placed):
        nearest = np.argsort(np.linalg.norm(fitted - point, axis=1))[:5]
        assert all(i % 3 == row % 3 for i in nearest)
