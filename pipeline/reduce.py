"""Dimension reduction: UMAP for real maps, a deterministic layout for tiny ones.

UMAP needs a handful of points (its spectral start fails below ``n_components + 2``), and
it talks: numba, "n_jobs overridden", "graph is not fully connected". A user of the bot
must never see that, so the library is imported and run with its warnings silenced, and
small inputs get a PCA layout instead.

For the cosine metric the nearest neighbours are computed here, exactly, with one matrix
product per block (``pipeline.neighbours.top_k``) and handed to UMAP: below 4,096 points
UMAP would otherwise compute all pairwise distances with one Python call per pair
(minutes for a few thousand people). The same exact search serves ``transform`` (new
points placed into a fit, see ``pipeline.incremental``): UMAP's own search index
(pynndescent) is not built when the neighbours are handed to it, so an
``ExactCosineIndex`` is handed over with them as its search index.

UMAP's numba functions take ~8 s to compile; most of them are not marked for numba's
on-disk cache, so every fresh process (each ``batchviz map``) paid that again.
``enable_numba_cache`` turns the cache on for them before the first fit, with each
dispatcher's ``enable_caching()``, and ``numba_cache_dir`` says where the cache lives
through numba's documented ``NUMBA_CACHE_DIR`` variable, set before numba is imported.
"""

from __future__ import annotations

import os
import sys
import threading
import warnings

import numpy as np

from pipeline.adaptive import adaptive_n_neighbors
from pipeline.neighbours import top_k
from pipeline.user_cache import user_cache

# below this many points UMAP is not used, whatever the number of components
MIN_UMAP_POINTS = 5
JIT_PACKAGES = ("umap", "pynndescent")  # whose compiled numba functions are kept on disk

_CACHE_LOCK = threading.Lock()
_cache_enabled = False


def numba_cache_dir() -> str | None:
    """Where numba keeps compiled functions: ``$NUMBA_CACHE_DIR`` if set, else batchviz's
    folder in the user's cache (``$XDG_CACHE_HOME/batchviz/numba``, ``~/.cache/...``).

    The variable is read when numba is imported, so this is called before the first import
    of UMAP; once numba is loaded it is left alone (None: numba's own choice then).
    """
    if "NUMBA_CACHE_DIR" not in os.environ and "numba" not in sys.modules:
        os.environ["NUMBA_CACHE_DIR"] = str(user_cache("numba"))
    return os.environ.get("NUMBA_CACHE_DIR")


def import_libraries() -> None:
    """Import UMAP (and with it numba) now: a cold build does it while the model loads."""
    _umap_class()


def _umap_class():
    """The UMAP estimator, imported without its import-time warnings (TensorFlow, numba)."""
    numba_cache_dir()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from umap import UMAP
    enable_numba_cache()
    return UMAP


def enable_numba_cache() -> int:
    """Keep the compiled numba functions of UMAP (and pynndescent) on disk; once per process.

    A fresh process then loads them instead of compiling (a 100-person fit: ~9 s → <1 s),
    from ``numba_cache_dir()``. A function no place can hold stays uncached: slower, never
    an error. Returns how many functions were switched on (0 after the first call).
    """
    global _cache_enabled
    with _CACHE_LOCK:
        if _cache_enabled:
            return 0
        _cache_enabled = True
        return sum(_try_enable(d) for d in _serial(_jitted_functions()))


def _is_dispatcher(value) -> bool:
    """A numba-compiled function (a dispatcher): it can cache, and knows its Python function."""
    return callable(getattr(value, "enable_caching", None)) and hasattr(value, "py_func")


def _jitted_functions() -> dict:
    """Python function → the numba dispatchers made of it, in the loaded JIT_PACKAGES."""
    found: dict = {}
    for name, module in list(sys.modules.items()):
        if name.partition(".")[0] in JIT_PACKAGES and module is not None:
            for value in list(vars(module).values()):
                if _is_dispatcher(value):
                    found.setdefault(value.py_func, {})[id(value)] = value
    return {func: list(dispatchers.values()) for func, dispatchers in found.items()}


def _serial(jitted: dict) -> list:
    """The dispatchers to cache: every function jitted once, and the serial one of twins.

    Numba keys its cache by function and signature, not by options: umap jits one
    function twice (serial and ``parallel=True``), and a cached parallel variant loaded for
    the serial one would break seeded layouts. Of such twins only the serial one is kept.
    Functions the library already caches are switched on again: the same cache.
    """
    chosen = []
    for dispatchers in jitted.values():
        if len(dispatchers) > 1:
            dispatchers = [d for d in dispatchers if not d.targetoptions.get("parallel")][:1]
        chosen += dispatchers
    return chosen


def _try_enable(dispatcher) -> int:
    """1 if ``dispatcher`` now caches to disk, 0 if numba found nowhere writable for it."""
    try:
        dispatcher.enable_caching()
    except (RuntimeError, OSError):  # "no locator available": no writable cache directory
        return 0
    return 1


class Reducer:
    """Reduce embeddings to ``n_components`` dimensions, seeded and quiet.

    ``n_neighbors=None`` chooses from the number of points (see ``pipeline.adaptive``).
    ``method_`` says which layout was used: "empty", "umap" or "pca" (tiny inputs, and
    the rare input UMAP cannot lay out).
    """

    def __init__(self, n_components=2, n_neighbors=None, min_dist=0.1, metric="cosine", random_state=42):
        self.n_components = n_components
        self.n_neighbors = n_neighbors
        self.min_dist = min_dist
        self.metric = metric
        self.random_state = random_state

    def fit_transform(self, X) -> np.ndarray:
        """The reduced coordinates, shape (n, n_components), float32; also in ``embedding_``."""
        X = np.asarray(X, dtype=np.float32)
        n = X.shape[0]
        if n == 0:
            self.method_, self.embedding_ = "empty", np.zeros((0, self.n_components), np.float32)
        elif n < max(MIN_UMAP_POINTS, self.n_components + 2):
            self.method_, self.embedding_ = "pca", pca_layout(X, self.n_components)
        else:
            self.method_, self.embedding_ = "umap", self._umap(X)
            if self.embedding_ is None or not np.all(np.isfinite(self.embedding_)):
                self.method_, self.embedding_ = "pca", pca_layout(X, self.n_components)
        return self.embedding_

    def transform(self, X) -> np.ndarray:
        """Places for new rows in this UMAP fit (UMAP's ``transform``); the fitted points
        stay where they are. Only after a fit whose ``method_`` is "umap"."""
        if getattr(self, "method_", None) != "umap":
            raise ValueError("only a UMAP fit can place new points")
        X = np.asarray(X, dtype=np.float32)
        if len(X) == 0:
            return np.zeros((0, self.n_components), np.float32)
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            return np.asarray(self.model_.transform(X), dtype=np.float32)

    def _umap(self, X: np.ndarray) -> np.ndarray:
        n = X.shape[0]
        n_neighbors = max(2, min(self.n_neighbors or adaptive_n_neighbors(n), n - 1))
        self.model_ = model = _umap_class()(
            n_components=self.n_components,
            n_neighbors=n_neighbors,
            min_dist=self.min_dist,
            metric=self.metric,
            random_state=self.random_state,
            n_jobs=1,  # a seed forces one thread anyway; saying so avoids UMAP's warning
            precomputed_knn=(*cosine_knn(X, n_neighbors), ExactCosineIndex(X)) if self.metric == "cosine"
            else (None, None, None),
        )
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            try:
                return np.asarray(model.fit_transform(X), dtype=np.float32)
            except (ValueError, TypeError, np.linalg.LinAlgError):  # degenerate input: no layout
                return None


def cosine_knn(X: np.ndarray, n_neighbors: int) -> tuple[np.ndarray, np.ndarray]:
    """UMAP's (indices, cosine distances) of each point's neighbours, itself first."""
    index, similarity = top_k(_unit(X), n_neighbors - 1)
    n = len(X)
    indices = np.hstack([np.arange(n)[:, None], index]).astype(np.int64)
    distances = np.hstack([np.zeros((n, 1)), np.clip(1 - similarity, 0, 2)]).astype(np.float32)
    return indices, distances


class ExactCosineIndex:
    """The exact cosine neighbours of new points among the fitted ones, for UMAP's
    ``transform`` (which asks its search index for ``query(X, k, epsilon)``)."""

    _angular_trees = True  # what UMAP reads off its index to choose epsilon (unused here)

    def __init__(self, data: np.ndarray):
        self.data = data  # the fitted rows themselves (no copy: a fit is kept between builds)

    def query(self, X, k: int, epsilon: float | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(indices, cosine distances) of each row's ``k`` nearest fitted points, nearest first."""
        sims = _unit(X) @ _unit(self.data).T
        k = min(k, sims.shape[1])
        part = np.argpartition(-sims, k - 1, axis=1)[:, :k]
        order = np.argsort(-np.take_along_axis(sims, part, axis=1), axis=1, kind="stable")
        indices = np.take_along_axis(part, order, axis=1)
        distances = np.clip(1 - np.take_along_axis(sims, indices, axis=1), 0, 2)
        return indices.astype(np.int32), distances.astype(np.float32)


def _unit(X) -> np.ndarray:
    X = np.asarray(X, dtype=np.float32)
    norms = np.linalg.norm(X, axis=1, keepdims=True)
    return X / np.where(norms == 0, 1, norms)


def pca_layout(X: np.ndarray, n_components: int) -> np.ndarray:
    """A deterministic layout of a few points: their principal axes, scaled to [-1, 1].

    Points with identical embeddings coincide; when all do (or there is one point), they
    are placed evenly on a circle so that every person stays visible.
    """
    n = X.shape[0]
    centred = X - X.mean(axis=0)
    _, s, vt = np.linalg.svd(centred, full_matrices=False)
    vt *= np.where(vt[np.arange(len(vt)), np.abs(vt).argmax(axis=1)] < 0, -1.0, 1.0)[:, None]
    coords = np.zeros((n, n_components), np.float32)
    rank = int(min(n_components, np.sum(s > 1e-6 * max(s.max(initial=0.0), 1e-12))))
    coords[:, :rank] = centred @ vt[:rank].T
    scale = np.abs(coords).max()
    if rank == 0 or scale == 0:
        return circle_layout(n, n_components)
    return coords / scale


def circle_layout(n: int, n_components: int) -> np.ndarray:
    """``n`` points evenly on the unit circle (the origin for one point)."""
    coords = np.zeros((n, n_components), np.float32)
    if n > 1 and n_components == 1:
        coords[:, 0] = np.linspace(-1.0, 1.0, n)
    elif n > 1:
        angles = 2 * np.pi * np.arange(n) / n
        coords[:, 0], coords[:, 1] = np.cos(angles), np.sin(angles)
    return coords
