"""The map's layout: fitted afresh, or a few new people placed on the previous fit.

A full layout fits UMAP twice (the ~5-D clustering space and the picture) and HDBSCAN:
seconds at 1,000 people. A debounced rebuild after one new introduction need not: the
newcomers are placed into the previous fit with UMAP's ``transform`` (their neighbours
among the people it was fitted on; everyone else keeps their place exactly, in the
picture and in the clustering space), and HDBSCAN runs again on that clustering space
(a fraction of a second at 1,000 people), with the fit's sizes, so groups come out as a
clustering would find them and stable numbering (``pipeline.stable``) keeps their
numbers. HDBSCAN's ``approximate_predict`` was tried first: on the demo batch it left
newcomers ungrouped whose five nearest people were four in one group (its prediction
looks at 2·min_samples neighbours only); clustering again grouped them with those, and
changed no one else's group in 7 of 8 held-out newcomers. A newcomer the clustering
still leaves out joins the group of most (more than half) of their ``VOTE_K`` nearest
people in the full embedding space, if there is one: a placed point near a group's edge
can miss it by a rounding where a full fit would take it in (seen on the demo batch: a
person whose five nearest were three in one group was left out by the placing and grouped
by a fit). Keywords and neighbours are computed for everyone, in the full embedding space,
as in every build.

The fits live in this process (``_STATES``), keyed by a fingerprint of the map each one
produced (people, embeddings, places, labels), so the previous map read back from the
store finds the fit that drew it. They are never shared between processes.

The rule. A build places the newcomers (``params["resolved"]["layout_update"]`` is
"transform") only when all of these hold; otherwise it fits fully ("fit", with the reason
in ``layout_reason``):

- the caller did not ask for a full fit (``build_map(..., refit=True)``; the nightly
  scheduled rebuild always asks);
- this process built ``previous`` with a UMAP fit of both spaces, or placed people on
  one (so the first build of a process fits, and so do tiny maps laid out by PCA; and
  with the share below, any map under 20 people: those fits take well under a second);
- everyone on ``previous`` is still there with the same embedding (within
  ``SAME_VECTOR``): an edit, a removal or an opt-out changes what the fit should be, so
  it refits (an edit is not placed as a removal plus a newcomer: the fit still holds the
  old text);
- the parameters that shape the layout (``FIT_PARAMS``) and the model are unchanged;
- the people placed since the last full fit, these included, are at most
  ``MAX_PLACED_SHARE`` of the people it was fitted on (5 %: 50 at 1,000 people, 1 at 20),
  so the map never drifts far from what a fit would draw. The adaptive sizes
  (``resolved``) stay those of the fit.

Either way, a build after ``previous`` keeps ``previous``'s groups unless the fresh ones
are clearly better (``pipeline.anchor``; ``params["resolved"]["groups_held"]`` says which):
one edit or removal no longer reshuffles the batch, and a placing after a held refit does
not bring back the groups that refit turned down.

And if the placing fails, the build fits afresh ("the newcomers could not be placed"):
UMAP's ``transform`` gives a newcomer with no neighbour in the fit no place (NaN), or
raises when no newcomer has one; and once, in CI, it gave NaN to a newcomer whose text
embedded exactly like six fitted people's (a short introduction repeated word for word
is common). A map is never drawn with a person who has no place.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from pipeline.anchor import SAME_VECTOR, VOTE_K, adopted, carried_over, held_partition  # noqa: F401
from pipeline.cluster import Clusterer
from pipeline.reduce import Reducer
from pipeline.result import NOISE

MAX_PLACED_SHARE = 0.05  # newcomers placed without a fit, as a share of the people fitted
FIT_PARAMS = ("components", "cluster_components", "n_neighbors", "min_dist", "min_cluster_size",
              "min_samples", "random_state")
MAX_STATES = 4  # maps remembered (the latest of each source); a fit holds its embeddings and kNN graph

_LOCK = threading.Lock()
_STATES: OrderedDict[str, "State"] = OrderedDict()


@dataclass(frozen=True)
class Fit:
    """One full fit: both reducers and what shaped them."""

    signature: tuple
    cluster_reducer: Reducer
    picture_reducer: Reducer
    resolved: dict  # the adaptive sizes of the fit
    fitted_on: int  # people


@dataclass(frozen=True)
class State:
    """A map drawn from ``fit``: its clustering space, a row per person (in the map's order)."""

    fit: Fit
    space: np.ndarray
    placed: int  # people placed since the fit


@dataclass
class Layout:
    """What a build's layout step gives the rest of the build."""

    coords: np.ndarray
    raw_labels: np.ndarray  # HDBSCAN's, before stable numbering
    notice: str | None
    record: dict  # merged into params["resolved"]
    state: State | None  # to remember once the map is made (None: not placeable on)


def signature(params, model_id: str) -> tuple:
    return (model_id, *(getattr(params, name) for name in FIT_PARAMS))


def layout(ids: list[str], embeddings: np.ndarray, resolved: dict, previous, params, model_id: str,
           refit: bool, timer) -> Layout:
    """The build's layout: the newcomers placed on ``previous``'s fit when the rule allows
    and the placing succeeds, else a full fit; ``previous``'s groups kept unless the new
    ones are clearly better (``params.stable_refit``)."""
    placement, reason = plan(ids, embeddings, previous, params, model_id, refit)
    made = place(placement, embeddings, timer) if placement is not None else None
    if placement is not None and made is None:
        reason = "the newcomers could not be placed"
    if made is None:
        made = fit(embeddings, resolved, params, model_id, timer, reason)
    carried = carried_over(ids, embeddings, previous) if params.stable_refit else None
    if carried is not None:
        size = made.record.get("min_cluster_size", resolved["min_cluster_size"])  # a placing's: the fit's
        made.raw_labels, made.record["groups_held"] = held_partition(carried, made.raw_labels, embeddings, size)
        made.notice = None if np.any(made.raw_labels != NOISE) else made.notice
    return made


def fit(embeddings: np.ndarray, resolved: dict, params, model_id: str, timer, reason: str) -> Layout:
    """The full layout: UMAP for the clustering space, HDBSCAN, UMAP for the picture; a
    person HDBSCAN leaves out joins the group of most of their nearest, as a placed
    newcomer does (``adopted``: on 4 draws of 100 talks, 12.5 % / 16 % in no group became
    8.3 % / 14.3 %, ARI on the batches the same or higher; benchmarks/README.md)."""
    with timer("reduce_clusters"):
        cluster_reducer = _reducer(resolved["cluster_components"], resolved, params, min_dist=0.0)
        space = cluster_reducer.fit_transform(embeddings)
    with timer("cluster"):
        clusterer = _cluster(space, embeddings, resolved, params)
    with timer("reduce_picture"):
        picture = _reducer(params.components, resolved, params, min_dist=params.min_dist)
        coords = picture.fit_transform(embeddings)
    record = {"layout": picture.method_, "selection": clusterer.selection_, "layout_update": "fit",
              "layout_reason": reason}
    fitted = Fit(signature(params, model_id), cluster_reducer, picture, dict(resolved), len(embeddings))
    placeable = cluster_reducer.method_ == picture.method_ == "umap"
    state = State(fitted, space, 0) if placeable else None
    left_out = np.flatnonzero(clusterer.labels_ == NOISE)
    return Layout(coords, adopted(clusterer.labels_, embeddings, left_out), clusterer.notice_, record, state)


def _cluster(space: np.ndarray, embeddings: np.ndarray, resolved: dict, params) -> Clusterer:
    clusterer = Clusterer(resolved["min_cluster_size"], resolved["min_samples"], random_state=params.random_state)
    clusterer.fit_predict(space, embeddings)
    return clusterer


def _reducer(n_components: int, resolved: dict, params, min_dist: float) -> Reducer:
    return Reducer(n_components=n_components, n_neighbors=resolved["n_neighbors"], min_dist=min_dist,
                   metric="cosine", random_state=params.random_state)


@dataclass(frozen=True)
class Plan:
    """Where the previous map's people are now (``old``) and who is new (``new``)."""

    state: State
    previous: object  # the MapResult the state drew
    params: object  # this build's PipelineParams
    old: np.ndarray
    new: np.ndarray


def plan(ids: list[str], embeddings: np.ndarray, previous, params, model_id: str,
         refit: bool) -> tuple[Plan | None, str]:
    """A ``Plan`` to place the newcomers on ``previous``'s fit, or None and why not (the rule)."""
    if refit:
        return None, "asked"
    state = _recall(previous)
    if state is None:
        return None, "no fit of the previous map in this process"
    if state.fit.signature != signature(params, model_id):
        return None, "parameters changed"
    where = {person: row for row, person in enumerate(ids)}
    old = [where.get(doc.person_id) for doc in previous.people]
    if len(where) != len(ids) or None in old:
        return None, "someone left"
    old = np.asarray(old, dtype=int)
    if not np.allclose(embeddings[old], previous.embeddings, rtol=0, atol=SAME_VECTOR):
        return None, "someone's text changed"
    new = np.setdiff1d(np.arange(len(ids)), old)
    if state.placed + len(new) > MAX_PLACED_SHARE * state.fit.fitted_on:
        return None, "too many new people since the last fit"
    return Plan(state, previous, params, old, new), "placed"


def place(p: Plan, embeddings: np.ndarray, timer) -> Layout | None:
    """Everyone on the previous map where they were; the newcomers placed into its fit;
    HDBSCAN again on the clustering space, with the fit's sizes. None if UMAP gives a
    newcomer no finite place."""
    fitted, n = p.state.fit, len(embeddings)
    coords = np.empty((n, p.previous.coords.shape[1]), np.float32)
    space = np.empty((n, p.state.space.shape[1]), np.float32)
    coords[p.old], space[p.old] = p.previous.coords, p.state.space
    newcomers = embeddings[p.new]
    with timer("reduce_clusters"):
        space[p.new] = placed_in(fitted.cluster_reducer, newcomers)
    if not np.all(np.isfinite(space)):
        return None
    with timer("cluster"):
        clusterer = _cluster(space, embeddings, fitted.resolved, p.params)
    with timer("reduce_picture"):
        coords[p.new] = placed_in(fitted.picture_reducer, newcomers)
    if not np.all(np.isfinite(coords)):
        return None
    placed = p.state.placed + len(p.new)
    record = {**fitted.resolved, "layout": fitted.picture_reducer.method_, "selection": clusterer.selection_,
              "layout_update": "transform", "layout_reason": "placed", "fitted_on": fitted.fitted_on, "placed": placed}
    labels = adopted(clusterer.labels_, embeddings, p.new)
    return Layout(coords, labels, clusterer.notice_, record, State(fitted, space, placed))


def placed_in(reducer: Reducer, rows: np.ndarray) -> np.ndarray:
    """``rows`` placed into ``reducer``'s fit; NaN for every row if UMAP cannot place them
    (it raises when none of them has a neighbour in the fit)."""
    try:
        return reducer.transform(rows)
    except ValueError:
        return np.full((len(rows), reducer.n_components), np.nan, np.float32)


def remember(result, layout: Layout) -> None:
    """Keep the fit behind ``result`` for the next build in this process (LRU)."""
    if layout.state is None:
        return
    key = fingerprint(result)
    with _LOCK:
        _STATES[key] = layout.state
        _STATES.move_to_end(key)
        while len(_STATES) > MAX_STATES:
            _STATES.popitem(last=False)


def forget_all() -> None:
    """Drop every remembered fit (the next build of each map fits afresh)."""
    with _LOCK:
        _STATES.clear()


def _recall(previous) -> State | None:
    if previous is None or not len(previous):
        return None
    key = fingerprint(previous)
    with _LOCK:
        state = _STATES.get(key)
        if state is not None:
            _STATES.move_to_end(key)
        return state


def fingerprint(result) -> str:
    """A digest of a map's model, people (in order), embeddings, places and labels."""
    digest = hashlib.sha256(result.model.encode())
    digest.update("\x1f".join(doc.person_id for doc in result.people).encode())
    for array, dtype in ((result.embeddings, np.float32), (result.coords, np.float32), (result.labels, np.int64)):
        digest.update(np.ascontiguousarray(array, dtype=dtype).tobytes())
    return digest.hexdigest()
