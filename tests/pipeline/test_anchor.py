"""A full refit after one edit or removal keeps everyone else's groups (pipeline/anchor.py), and a
fit leaves out no one whose nearest people are mostly one group."""

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from pipeline.anchor import Carried, held_partition
from pipeline.build import build_map
from pipeline.csv_import import read_csv
from pipeline.params import PipelineParams
from pipeline.result import NOISE

WINTER = Path(__file__).resolve().parents[2] / "benchmarks" / "data" / "winter.csv"
PARAMS = PipelineParams(random_state=0)


@pytest.fixture(scope="module")
def winter(real_embedder):
    """The winter batch (38 people, neighbouring interests) and its first map."""
    docs = read_csv(WINTER)
    return docs, build_map(docs, PARAMS, real_embedder, refit=True)


def _groups(result) -> list[frozenset]:
    ids = [d.person_id for d in result.people]
    return [frozenset(ids[i] for i in c.members) for c in result.clusters.values()]


def _others_kept(before, after, person: str) -> bool:
    """Whether every group of ``before`` without ``person`` is a group of ``after`` (the
    person taken out of it: they may have joined it)."""
    now = {g - {person} for g in _groups(after)}
    return all(g in now for g in _groups(before) if person not in g)


def _edited(docs, row: int):
    """``docs`` with person ``row`` writing the intro of the first person of another group."""
    other = next(d for d in docs if d.extra["group"] != docs[row].extra["group"])
    return [replace(d, text=other.text, raw=other.text) if i == row else d for i, d in enumerate(docs)]


@pytest.mark.parametrize("row", [0])
def test_an_edit_then_full_refit_changes_no_other_group(winter, real_embedder, row):
    """Editing one intro to another group's topic and refitting in full: every group the
    editor was in neither before nor after keeps exactly its people, the number of groups
    moves by at most one, and the editor no longer shares a group with their old topic."""
    docs, before = winter
    person = docs[row].person_id
    changed = _edited(docs, row)
    after = build_map(changed, PARAMS, real_embedder, previous=before, refit=True)
    assert after.params["resolved"]["layout_update"] == "fit"
    assert _others_kept(before, after, person)
    assert abs(len(after.clusters) - len(before.clusters)) <= 1
    ids = [d.person_id for d in after.people]
    mates = [ids.index(d.person_id) for d in docs if d.extra["group"] == docs[row].extra["group"] and d != docs[row]]
    assert after.labels[ids.index(person)] not in set(after.labels[mates]) - {NOISE}


def test_the_next_build_after_a_held_refit_keeps_the_held_groups(winter, real_embedder):
    """A build after a refit that held its groups (the same people: nothing to fit, the map
    is placed on that refit's fit and clustered again) does not bring back the groups the
    refit turned down."""
    docs, before = winter
    changed = _edited(docs, 0)
    held = build_map(changed, PARAMS, real_embedder, previous=before, refit=True)
    again = build_map(changed, PARAMS, real_embedder, previous=held)
    assert again.params["resolved"]["layout_update"] == "transform"
    assert np.array_equal(again.labels, held.labels)


def test_a_removal_then_full_refit_keeps_every_other_group(winter, real_embedder):
    """Someone leaves: the groups they were not in are the same sets of people, and the
    number of groups changes by at most one."""
    docs, before = winter
    person = docs[5].person_id
    after = build_map(docs[:5] + docs[6:], PARAMS, real_embedder, previous=before, refit=True)
    assert _others_kept(before, after, person)
    assert abs(len(after.clusters) - len(before.clusters)) <= 1


def _blobs(per=10, groups=4, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(groups, 16)) * 4
    vectors = np.vstack([c + rng.normal(size=(per, 16)) for c in centres])
    return vectors, np.repeat(np.arange(groups), per)


def test_the_previous_groups_lose_to_a_clearly_better_fresh_fit():
    """Carried groups that no longer fit the people (shuffled) give way to the fresh ones."""
    vectors, truth = _blobs()
    shuffled = np.random.default_rng(1).permutation(truth)
    labels, held = held_partition(Carried(shuffled, np.array([], int)), truth, vectors, 3)
    assert not held and np.array_equal(labels, truth)


def test_the_previous_groups_hold_against_a_fresh_fit_about_as_good():
    """A fresh fit that moved one person between groups does not replace the previous
    groups; a changed person (row 0) is voted into the group of their nearest people."""
    vectors, truth = _blobs()
    fresh = truth.copy()
    fresh[5] = 1
    carried = truth.copy()
    carried[0] = NOISE
    labels, held = held_partition(Carried(carried, np.array([0])), fresh, vectors, 3)
    assert held and np.array_equal(labels, truth)


def test_a_full_fit_leaves_out_no_one_whose_nearest_are_mostly_one_group(real_embedder):
    """Everyone in no group after a fit has no group holding more than half of their five
    nearest others (cosine): HDBSCAN's border people join the group around them."""
    docs = read_csv(WINTER.with_name("autumn.csv"))
    result = build_map(docs, PARAMS, real_embedder, refit=True)
    unit = result.embeddings / np.linalg.norm(result.embeddings, axis=1, keepdims=True)
    for row in np.flatnonzero(result.labels == NOISE):
        similarity = unit @ unit[row]
        similarity[row] = -np.inf
        nearest = result.labels[np.argsort(-similarity)[:5]]
        counts = np.unique(nearest[nearest != NOISE], return_counts=True)[1]
        assert counts.max(initial=0) <= 2, (docs[row].name, nearest)
