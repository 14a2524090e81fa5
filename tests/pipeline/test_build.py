"""build_map: every stage together, for every size, quietly, reproducibly, with stable numbers."""

import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score

from pipeline.build import STAGES, build_map
from pipeline.documents import Document
from pipeline.embed import HashingEmbedder
from pipeline.errors import PipelineError
from pipeline.params import PipelineParams
from pipeline.result import NOISE
from pipeline.stable import HIGH_WATER_KEY

HASHING = HashingEmbedder()


def _check_result(result, docs):
    """Invariants of every map: one place, label and neighbour list per person, consistent clusters."""
    n = len(docs)
    assert result.people == docs and len(result) == n
    assert result.coords.shape == (n, 2) and np.all(np.isfinite(result.coords))
    assert result.labels.shape == (n,) and result.embeddings.shape[0] == n
    assert len(result.neighbours) == n
    assert set(result.labels.tolist()) - {NOISE} == set(result.clusters)
    assert all(number >= 1 for number in result.clusters)
    for number, cluster in result.clusters.items():
        assert cluster.members == np.flatnonzero(result.labels == number).tolist()
        assert all(1 <= len(k.split()) <= 3 for k in cluster.keywords)
    assert set(result.params["timings"]) == set(STAGES)
    assert result.params[HIGH_WATER_KEY] >= max(result.clusters, default=0)
    assert result.model == HASHING.model_id and result.built_at.tzinfo is not None


def _ari(result):
    return adjusted_rand_score([d.extra["group"] for d in result.people], result.labels)


@pytest.mark.parametrize("n", [0, 1, 2, 5, 20])
def test_any_number_of_people_builds_quietly(n, topic_documents, assert_quiet):
    """0, 1, 2, 5 and 20 people give a consistent map, no warnings, and a notice when tiny."""
    docs = topic_documents(per_group=7)[:n]
    with assert_quiet():
        result = build_map(docs, embedder=HASHING)
    _check_result(result, docs)
    assert (result.notice is not None) == (n < 6)


def test_topic_groups_are_recovered(topic_documents):
    """Three groups of 15 with distinct vocabularies come out as three clusters, little noise."""
    result = build_map(topic_documents(per_group=15), embedder=HASHING)
    assert _ari(result) >= 0.8
    assert result.noise_count <= 0.2 * len(result)


def test_many_clusters_work(topic_documents):
    """Sixteen small topic groups give well over a dozen consistently numbered clusters."""
    topics = {f"topic{g}": " ".join(f"t{g}w{j}" for j in range(10)) for g in range(16)}
    docs = topic_documents(per_group=6, topics=topics)
    result = build_map(docs, embedder=HashingEmbedder(dim=1024))
    assert len(result.clusters) >= 12
    assert sorted(result.clusters) == list(range(1, len(result.clusters) + 1))
    assert _ari(result) >= 0.7


def test_seeded_rebuild_is_identical(topic_documents):
    """The same documents and seed give the same labels, places and keywords."""
    docs = topic_documents(per_group=10)
    first, second = build_map(docs, embedder=HASHING), build_map(docs, embedder=HASHING)
    assert np.array_equal(first.labels, second.labels) and np.allclose(first.coords, second.coords)
    assert {n: c.keywords for n, c in first.clusters.items()} == {n: c.keywords for n, c in second.clusters.items()}


def test_one_more_person_keeps_the_numbers(topic_documents):
    """Rebuilding with a newcomer keeps every old group's number for its old members."""
    docs = topic_documents(per_group=12, seed=1)
    before = build_map(docs, embedder=HASHING)
    newcomer = topic_documents(per_group=1, topics={"music": "guitar drums midi jazz choir ukulele"}, offset=99)
    after = build_map(docs + newcomer, embedder=HASHING, previous=before)
    for number, cluster in before.clusters.items():
        kept = after.labels[cluster.members]
        assert np.mean(kept == number) >= 0.8


def test_a_new_group_gets_a_new_number(topic_documents):
    """A topic that was not there before gets a number above every earlier one."""
    docs = topic_documents(per_group=12, seed=2)
    biology = [d for d in docs if d.extra["group"] == "biology"]
    before = build_map([d for d in docs if d not in biology], embedder=HASHING)
    after = build_map(docs, embedder=HASHING, previous=before)
    new_numbers = set(after.labels[[docs.index(d) for d in biology]].tolist()) - {NOISE}
    assert new_numbers and min(new_numbers) > before.params[HIGH_WATER_KEY]
    largest = before.clusters[1].members
    assert np.mean(after.labels[largest] == 1) >= 0.8


def test_identical_texts_are_two_people(topic_documents):
    """Two people who wrote the same text are two points, both with neighbours."""
    docs = topic_documents(per_group=8)
    twin = Document("twin", "Twin Person", docs[0].text, docs[0].text, dict(docs[0].extra))
    result = build_map(docs + [twin], embedder=HASHING)
    _check_result(result, docs + [twin])
    assert result.labels[-1] == result.labels[0]


def test_hostile_input_builds(topic_documents, assert_quiet):
    """Empty texts, HTML in names and a huge text are mapped like anyone else."""
    docs = topic_documents(per_group=6) + [
        Document("empty", "", ""),
        Document("html", "<script>alert(1)</script>", "<b>kernel</b> & <i>llvm</i>"),
        Document("huge", "Huge", "compiler kernel " * 20000),
    ]
    with assert_quiet():
        result = build_map(docs, embedder=HASHING)
    _check_result(result, docs)


def test_progress_hears_every_stage_in_order(topic_documents):
    """The progress callback is told each stage as it starts, in pipeline order."""
    heard = []
    build_map(topic_documents(per_group=3), embedder=HASHING, progress=heard.append)
    assert heard == list(STAGES)


@pytest.mark.parametrize("params, named", [
    (PipelineParams(components=4), "components"),
    (PipelineParams(min_cluster_size=0), "min_cluster_size"),
    (PipelineParams(keywords="lda"), "keywords"),
])
def test_bad_params_are_named(params, named):
    """Parameters no stage can honour raise PipelineError naming the parameter."""
    with pytest.raises(PipelineError, match=named):
        build_map([], params, embedder=HASHING)


def test_three_dimensional_picture(topic_documents):
    """components=3 gives a 3-D picture while clustering is unchanged."""
    docs = topic_documents(per_group=8)
    flat, deep = build_map(docs, embedder=HASHING), build_map(docs, PipelineParams(components=3), HASHING)
    assert deep.coords.shape == (len(docs), 3)
    assert np.array_equal(flat.labels, deep.labels)


@pytest.mark.model
def test_demo_batch_has_real_groups_with_the_bundled_model(real_embedder):
    """The bundled model on the demo batch: groups match the intended ones, noise at most a fifth."""
    from pipeline.demo import load_demo

    result = build_map(load_demo(), embedder=real_embedder)
    assert _ari(result) >= 0.5
    assert result.noise_count <= 0.2 * len(result)
    assert 4 <= len(result.clusters) <= 20


def test_neighbours_come_from_the_full_embedding_space_not_the_picture(topic_documents):
    """Each person's neighbours are ``nearest`` over the embeddings, and each similarity is
    the cosine of two embeddings, not of two points of the 2-D picture (issue 28)."""
    from pipeline.neighbours import nearest

    docs = topic_documents(per_group=8)
    result = build_map(docs, embedder=HASHING)
    expected = nearest(result.embeddings, [d.text for d in docs], PipelineParams().neighbours_k)
    assert [[n.index for n in row] for row in result.neighbours] == [[n.index for n in row] for row in expected]
    cosines = result.embeddings @ result.embeddings.T
    for i, row in enumerate(result.neighbours):
        assert row, f"person {i} has no neighbours"
        for n in row:
            assert n.similarity == pytest.approx(float(cosines[i, n.index]), abs=1e-5)
