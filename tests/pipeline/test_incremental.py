"""A few newcomers are placed on the previous fit; edits, removals and asked-for refits fit afresh."""

from collections import Counter
from dataclasses import replace

import numpy as np
import pytest

from pipeline import incremental
from pipeline.build import build_map
from pipeline.documents import Document
from pipeline.embed import HashingEmbedder, MemoryCache
from pipeline.params import PipelineParams
from pipeline.render import render_html
from pipeline.result import NOISE

HASHING = HashingEmbedder()
MUSIC = {"music": "synthesizer guitar drums midi ableton choir jazz melody harmony ukulele"}


def _update(result) -> str:
    return result.params["resolved"].get("layout_update")


def _base(topic_documents):
    """60 people in three topics, fitted afresh (the first build of this map in the process)."""
    docs = topic_documents(per_group=20, seed=3)
    return docs, build_map(docs, embedder=HASHING, refit=True)


def _newcomer(topic_documents, offset=100, seed=7):
    return topic_documents(per_group=1, topics=MUSIC, seed=seed, offset=offset)


def _nearest_on_map(result, row: int, k: int) -> set[int]:
    distance = np.linalg.norm(result.coords - result.coords[row], axis=1)
    distance[row] = np.inf
    return set(np.argsort(distance, kind="stable")[:k].tolist())


def _nearest_in_full_space(result, row: int, k: int) -> list[int]:
    similarity = result.embeddings @ result.embeddings[row]
    similarity[row] = -np.inf
    return np.argsort(-similarity, kind="stable")[:k].tolist()


def _group_of_nearest(result, row: int) -> int:
    """The most common label among the five people nearest to ``row`` in the full space."""
    return Counter(result.labels[_nearest_in_full_space(result, row, 5)].tolist()).most_common(1)[0][0]


def test_one_newcomer_is_placed_and_nobody_else_moves(topic_documents):
    """One new person: placed by transform, everyone else keeps place and group number, and
    the newcomer joins the group of their nearest people in the full space."""
    docs, before = _base(topic_documents)
    after = build_map(docs + _newcomer(topic_documents), embedder=HASHING, previous=before)
    n = len(docs)
    assert np.array_equal(after.coords[:n], before.coords)
    assert np.array_equal(after.labels[:n], before.labels)
    assert _update(after) == "transform" and after.params["resolved"]["placed"] == 1
    music = {number for number, c in before.clusters.items() if before.people[c.members[0]].extra["group"] == "music"}
    assert after.labels[n] == _group_of_nearest(after, n) and after.labels[n] in music
    assert n in after.clusters[int(after.labels[n])].members
    assert {after.people[i].extra["group"] for i in _nearest_on_map(after, n, 5)} == {"music"}


@pytest.mark.model
def test_newcomers_land_near_their_nearest_people(real_embedder):
    """The bundled model on the demo batch, three people held out and added one by one:
    each is placed, most of their five nearest on the map are among their ten nearest in
    the full space, and they join the group most of their five nearest are in."""
    from pipeline.demo import load_demo

    docs = load_demo()
    held = [docs[i] for i in (17, 33, 51)]
    docs = [d for d in docs if d not in held]
    cache = MemoryCache()
    result = build_map(docs, embedder=real_embedder, cache=cache, refit=True)
    for newcomer in held:
        previous, docs = result, docs + [newcomer]
        result = build_map(docs, embedder=real_embedder, cache=cache, previous=previous)
        row = len(docs) - 1
        assert _update(result) == "transform" and np.array_equal(result.coords[:row], previous.coords)
        close = set(_nearest_in_full_space(result, row, 10))
        assert len(_nearest_on_map(result, row, 5) & close) >= 3
        assert result.labels[row] == _group_of_nearest(result, row) != NOISE


def test_newcomers_keep_being_placed_up_to_the_share(topic_documents):
    """Placed builds chain on the same fit (earlier newcomers keep their places too) until
    the people placed since the fit would pass MAX_PLACED_SHARE of the people fitted."""
    from pipeline.incremental import MAX_PLACED_SHARE

    docs, result = _base(topic_documents)
    allowed = int(MAX_PLACED_SHARE * len(docs))
    assert allowed >= 2
    for i in range(allowed):
        previous = result
        docs = docs + _newcomer(topic_documents, offset=100 + i, seed=i)
        result = build_map(docs, embedder=HASHING, previous=previous)
        assert _update(result) == "transform" and result.params["resolved"]["placed"] == i + 1
        assert np.array_equal(result.coords[:-1], previous.coords)
    docs = docs + _newcomer(topic_documents, offset=200)
    assert _update(build_map(docs, embedder=HASHING, previous=result)) == "fit"


def _edited(docs):
    first = docs[0]
    return [replace(first, text=first.text + " I also keep bees."), *docs[1:]]


@pytest.mark.parametrize("change, reason", [
    (lambda docs: docs[:-1] + docs[-1:], None),  # nothing changed, but asked
    (_edited, "someone's text changed"),
    (lambda docs: docs[1:], "someone left"),
])
def test_an_edit_a_removal_or_refit_fits_afresh(topic_documents, change, reason):
    """After a placed build, an edit or a removal (or ``refit=True``) fits the whole map
    again: the same map as a build with no previous fit, the other groups' numbers kept."""
    docs, before = _base(topic_documents)
    docs = docs + _newcomer(topic_documents)
    placed = build_map(docs, embedder=HASHING, previous=before)
    assert _update(placed) == "transform"
    changed = change(docs)
    after = build_map(changed, embedder=HASHING, previous=placed, refit=reason is None)
    assert _update(after) == "fit" and after.params["resolved"]["layout_reason"] == (reason or "asked")
    fresh = build_map(changed, embedder=HASHING, refit=True)
    assert np.allclose(after.coords, fresh.coords)
    ids = [d.person_id for d in changed]
    for number, cluster in placed.clusters.items():
        members = [ids.index(placed.people[i].person_id) for i in cluster.members if placed.people[i].person_id in ids]
        assert np.mean(after.labels[members] == number) >= 0.8


def test_first_build_of_a_process_or_new_parameters_fit(topic_documents):
    """A previous map whose fit this process does not hold (another process made it, or the
    process restarted), or different layout parameters, mean a full fit."""
    docs, before = _base(topic_documents)
    docs = docs + _newcomer(topic_documents)
    changed = build_map(docs, PipelineParams(min_dist=0.3), HASHING, previous=before)
    assert changed.params["resolved"]["layout_reason"] == "parameters changed"
    assert _update(build_map(docs, PipelineParams(neighbours_k=3), HASHING, previous=before)) == "transform"
    from pipeline.incremental import forget_all

    forget_all()
    restarted = build_map(docs, embedder=HASHING, previous=before)
    assert _update(restarted) == "fit"
    assert restarted.params["resolved"]["layout_reason"] == "no fit of the previous map in this process"


def test_small_maps_always_fit(topic_documents):
    """A map too small for UMAP (a PCA layout) is fitted again for every newcomer."""
    docs = topic_documents(per_group=1)
    before = build_map(docs, embedder=HASHING, refit=True)
    assert before.params["resolved"]["layout"] == "pca"
    after = build_map(docs + _newcomer(topic_documents), embedder=HASHING, previous=before)
    assert _update(after) == "fit"


class VectorEmbedder:
    """Each text's vector from a table: a fit and newcomers exactly where a test needs them."""

    model_id = "vectors"

    def __init__(self, table: dict[str, np.ndarray]):
        self.table = table

    def encode(self, texts):
        return np.asarray([self.table[text] for text in texts], np.float32)


@pytest.mark.parametrize("newcomers", [["opposite"], ["opposite", "same again"]], ids=["raises", "nan"])
def test_newcomers_umap_cannot_place_get_a_full_fit(newcomers):
    """UMAP's transform gives a newcomer with no neighbour in the fit no place: it raises
    when no newcomer has one, and returns NaN for that row otherwise. Either way the build
    fits afresh, and everyone has a finite place (the page would not render otherwise)."""
    same, across = np.eye(8, dtype=np.float32)[:2]
    table = {f"same {i}": same for i in range(40)} | {"opposite": -same, "same again": same, "other": across}
    embedder = VectorEmbedder(table)
    docs = [Document(str(i), f"P{i}", f"same {i}") for i in range(40)]
    before = build_map(docs, embedder=embedder, refit=True)
    assert before.params["resolved"]["layout"] == "umap"
    after = build_map(docs + [Document(f"n{i}", f"N{i}", text) for i, text in enumerate(newcomers)],
                      embedder=embedder, previous=before)
    assert _update(after) == "fit"
    assert after.params["resolved"]["layout_reason"] == "the newcomers could not be placed"
    assert len(after) == 40 + len(newcomers) and np.all(np.isfinite(after.coords))
    render_html(after)  # NaN anywhere would fail the page's strict JSON


def test_a_newcomer_left_out_joins_the_group_most_of_their_nearest_are_in():
    """Only a newcomer labelled noise is moved, and only into a group holding more than
    half of their VOTE_K (5) nearest others; everyone else keeps their label."""
    angles = np.array([0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 3.0])  # row 0's nearest: 1, 2, 3, 4, 5
    embeddings = np.column_stack([np.cos(angles), np.sin(angles)])
    labels = np.array([NOISE, 4, 2, 2, NOISE, 2, 4, 4, NOISE])
    out = incremental.adopted(labels, embeddings, [0, 8])
    assert out[0] == 2  # 3 of 5 nearest in group 2 (4 is nearer, but holds 1)
    assert out[8] == NOISE  # its nearest are 7, 6, 5, 4, 3: 4 twice, 2 twice, noise once
    assert np.array_equal(out[1:], labels[1:])
    assert incremental.adopted(labels, embeddings, [4])[4] == 2  # 3, 5, 2 in group 2 of its five
    labels[5] = 4  # now 2 holds 2 of row 0's nearest, 4 holds 2: no majority
    assert incremental.adopted(labels, embeddings, [0])[0] == NOISE
