"""Rebuilds and what changed between two maps (used by refresh replies and weekly posts)."""

from __future__ import annotations

from datetime import datetime, timezone

import numpy as np

from bot.service import NamePolicy, describe_changes, import_documents, rebuild
from pipeline.documents import Document, text_hash
from pipeline.embed import HashingEmbedder
from pipeline.params import PipelineParams
from pipeline.result import NOISE, Cluster, MapResult
from storage import Store


def make_map(groups: dict[int, list[str]], noise: tuple[str, ...] = ()) -> MapResult:
    """A map whose clusters hold the given person ids (no pipeline needed)."""
    ids = [pid for members in groups.values() for pid in members] + list(noise)
    labels = np.array([n for n, members in groups.items() for _ in members] + [NOISE] * len(noise))
    clusters = {n: Cluster(n, [ids.index(p) for p in members], [f"kw{n}"]) for n, members in groups.items()}
    n = len(ids)
    return MapResult([Document(p, p.upper(), p) for p in ids], np.eye(n, dtype=np.float32),
                     np.zeros((n, 2)), labels, clusters, [[] for _ in ids], "m", {},
                     datetime.now(timezone.utc))


def test_first_map():
    """Without a previous map the summary says it is the first."""
    assert describe_changes(None, make_map({1: ["a", "b"]})) == ["First map: 2 people in 1 group."]


def test_no_changes():
    """The same membership gives one 'no changes' line."""
    old = make_map({1: ["a", "b", "c"], 2: ["d", "e", "f"]})
    assert describe_changes(old, old) == ["No changes since the previous map."]


def test_new_people_and_new_cluster():
    """New people are named; a cluster of only new people is new."""
    old = make_map({1: ["a", "b", "c"]})
    new = make_map({1: ["a", "b", "c"], 2: ["x", "y", "z"]})
    assert describe_changes(old, new) == ["New on the map (3): X, Y, Z", "New group 2: kw2"]


def test_merge_and_split():
    """Two old clusters sharing one new cluster merged; one old cluster in two new ones split."""
    old = make_map({1: ["a", "b", "c"], 2: ["d", "e", "f"], 3: ["g", "h", "i", "j", "k", "l"]})
    new = make_map({1: ["a", "b", "c", "d", "e", "f"], 3: ["g", "h", "i"], 4: ["j", "k", "l"]})
    lines = describe_changes(old, new)
    assert "Groups 1 and 2 merged into group 1: kw1" in lines
    assert "Group 3 split into groups 3 and 4" in lines
    assert not any(line.startswith("New group") for line in lines)


def test_dissolved_and_leavers_untold():
    """A cluster whose people all went is dissolved; how many left is not said (issue 9.7)."""
    old = make_map({1: ["a", "b", "c"], 2: ["d", "e", "f"]})
    new = make_map({1: ["a", "b", "c"]}, noise=("d",))
    assert describe_changes(old, new) == ["Group 2 (kw2) dissolved"]


def test_rebuild_empty_source(tmp_path):
    """A source with nobody yet gives a map with a notice and no files, without crashing."""
    with Store(tmp_path / "db.sqlite3") as store:
        built = rebuild(store, "main", PipelineParams(), HashingEmbedder(), outputs=tmp_path / "maps")
    assert len(built.result) == 0 and built.result.notice and built.html_path is None


def test_rebuild_writes_files_named_in_the_snapshot(demo_store, tmp_path):
    """A rebuild saves a new snapshot and writes <id>.html/.png with pseudonyms when asked."""
    names = NamePolicy(pseudonymize=True, keep=(), seed=1)
    built = rebuild(demo_store, "demo", PipelineParams(), HashingEmbedder(), outputs=tmp_path, names=names)
    assert built.html_path == tmp_path / f"{demo_store.servable_files(built.snapshot_id)}.html"
    assert built.png_path.exists()
    page = built.html_path.read_text(encoding="utf-8")
    assert built.result.people[0].name not in page
    assert built.changes == ["No changes since the previous map."]


def test_map_of_zulip_users_links_each_to_a_dm(tmp_path):
    """With the Zulip site in the name policy, the written map links each user to a DM."""
    docs = [Document(str(40 + i), f"User {i}", f"I like rust and chess number {i}") for i in range(4)]
    with Store(tmp_path / "db.sqlite3") as store:
        import_documents(store, "main", docs)
        built = rebuild(store, "main", PipelineParams(), HashingEmbedder(), outputs=tmp_path / "maps",
                        names=NamePolicy(site="https://chat.example.org"))
    assert "https://chat.example.org/#narrow/dm/41-user" in built.html_path.read_text(encoding="utf-8")


def test_a_few_people_moving_is_neither_a_merge_nor_a_split():
    """Two people moving from one group to another changes no group's identity."""
    old = make_map({1: ["a", "b", "c", "d", "e"], 2: ["f", "g", "h", "i", "j"]})
    new = make_map({1: ["a", "b", "c", "d", "e", "f", "g"], 2: ["h", "i", "j"]})
    assert describe_changes(old, new) == ["No changes since the previous map."]


def test_someone_leaving_is_not_announced():
    """Posts and stream replies would tell that someone opted out, and when (issue 9.7)."""
    old = make_map({1: ["a", "b", "c", "d"]})
    new = make_map({1: ["a", "b", "c"]})
    assert describe_changes(old, new) == ["No changes since the previous map."]


def test_rebuilds_prune_vectors_no_kept_map_or_document_uses(tmp_path):
    """The embedding cache shrinks with the snapshots: after an edit and a deletion, the
    vectors of texts that only pruned maps held go; kept maps' and current texts' stay."""
    embedder = HashingEmbedder()
    intros = {"1": "I knit and sail", "2": "I fly kites and bake", "3": "I write compilers in rust"}

    def cached_texts(store) -> set[str]:
        texts = {doc.text for doc in store.documents("main")}
        for snapshot_id in store.snapshot_ids("main"):
            texts |= {doc.text for doc in store.load_snapshot(snapshot_id).people}
        assert store.embedding_count() == len(texts)  # nothing else is cached
        return {t for t in texts if store.get_embeddings(embedder.model_id, [text_hash(t)])}

    def build(store) -> None:
        rebuild(store, "main", PipelineParams(), embedder)

    with Store(tmp_path / "db.sqlite3", keep_snapshots=2) as store:
        for n, (person, text) in enumerate(intros.items()):
            store.upsert_message("main", n + 1, person, text, text, timestamp=n)
        build(store)
        store.upsert_message("main", 1, "1", "I knit", "I knit", timestamp=0)  # an edit
        store.delete_message(2)
        build(store)
        assert cached_texts(store) >= {intros["1"], intros["2"]}  # the first map still holds them
        build(store)  # the first map is pruned, and with it the old texts' vectors
        assert cached_texts(store) == {"I knit", intros["3"]}
        assert store.get_embeddings(embedder.model_id, [text_hash(intros["1"]), text_hash(intros["2"])]) == {}


def test_a_newcomer_is_placed_on_the_stored_map_until_a_refit_is_asked(tmp_path, topic_documents):
    """The bot's rebuild after one new intro places them on the map it saved last (read back
    from the store), everyone else where they were; ``refit=True`` (nightly) fits afresh."""
    embedder = HashingEmbedder()
    docs = topic_documents(per_group=20, seed=4)
    with Store(tmp_path / "db.sqlite3") as store:
        import_documents(store, "main", docs)
        first = rebuild(store, "main", PipelineParams(), embedder, refit=True).result
        text = "Hi! I play jazz guitar and drums, and I build midi synthesizer gadgets."
        store.upsert_message("main", 9001, "newcomer", text, text, timestamp=10_000)
        placed = rebuild(store, "main", PipelineParams(), embedder, outputs=tmp_path / "maps")
        refitted = rebuild(store, "main", PipelineParams(), embedder, refit=True).result
    assert np.array_equal(placed.result.coords[:len(docs)], first.coords)
    assert placed.result.params["resolved"]["layout_update"] == "transform"
    assert np.array_equal(placed.result.labels[:len(docs)], first.labels)
    assert placed.changes[0] == "New on the map (1): newcomer" and placed.html_path.exists()
    assert refitted.params["resolved"]["layout_update"] == "fit"
    assert refitted.params["resolved"]["layout_reason"] == "asked"
