"""Map files and snapshots against opt-out and retention (issue 9, items 2–4; issue 10,
item 7): real Store, real pipeline (HashingEmbedder), real files, the real map server."""

from __future__ import annotations

import http.client
from datetime import datetime, timedelta, timezone

import pytest

from bot.service import map_file, rebuild
from bot.signing import Signer, load_or_create_secret
from bot.webserver import EXPIRED_MAP, MapLinks, MapServer
from pipeline.documents import text_hash
from pipeline.embed import HashingEmbedder
from pipeline.params import PipelineParams
from storage import Store


@pytest.fixture
def maps(tmp_path):
    return tmp_path / "maps"


def build(store, folder):
    return rebuild(store, "demo", PipelineParams(), HashingEmbedder(), outputs=folder)


class RecordingStore(Store):
    """A real store that notes which map files exist, whole, when a snapshot is saved."""

    def save_snapshot(self, source, result, files=""):
        self.seen = {p.name: p.stat().st_size for p in self.maps.iterdir()}
        return super().save_snapshot(source, result, files)


def test_files_have_unguessable_names_and_exist_before_their_snapshot(demo_data_dir, maps):
    """The page and PNG are written whole under a random stem (to a temporary file, then
    renamed), and only then is the snapshot naming them saved; nothing temporary is left
    behind (issue 9.4, 10.7)."""
    demo_store = RecordingStore(demo_data_dir / "batchviz.sqlite3")
    demo_store.maps = maps
    built = build(demo_store, maps)
    stem = built.html_path.stem
    assert demo_store.seen == {p.name: p.stat().st_size for p in maps.iterdir()}  # already whole
    assert stem != str(built.snapshot_id) and len(stem) >= 24
    assert demo_store.servable_files(built.snapshot_id) == stem
    assert sorted(p.name for p in maps.iterdir()) == [f"{stem}.html", f"{stem}.png"]
    demo_store.close()


def test_dir_mode_publishes_under_the_unguessable_name(demo_store, tmp_path):
    """dir mode copies the page as <source>-<random>.html, never <source>-<id>.html."""
    built = build(demo_store, tmp_path / "maps")
    links = MapLinks("dir", None, lambda s, i: map_file(demo_store, tmp_path / "maps", i, ".html"),
                     ttl_hours=1, public_url="https://maps.example.org", map_dir=tmp_path / "site")
    url = links.mint_url("demo", built.snapshot_id)
    assert url == f"https://maps.example.org/demo-{built.html_path.name}"
    assert f"demo-{built.snapshot_id}.html" not in url


def test_opt_out_stops_serving_every_map_of_the_person(demo_store, tmp_path, maps):
    """After opting out, no map file holding the person is served ("expired"), the next
    build deletes them, and the cluster sentences stored lose the person's (issue 9.2)."""
    first, second = build(demo_store, maps), build(demo_store, maps)
    person = second.result.people[0]
    signer = Signer(load_or_create_secret(tmp_path / "secret"))
    server = MapServer("127.0.0.1", 0, signer, lambda s, i: map_file(demo_store, maps, i, ".html")).start()
    try:
        links = MapLinks("serve", signer, server.lookup, 1, server_url=server.base_url)
        demo_store.forget_person(person.person_id)
        demo_store.set_consent(person.person_id, True)
        for snapshot_id in (first.snapshot_id, second.snapshot_id):
            url = links.mint_url("demo", snapshot_id)
            conn = http.client.HTTPConnection(*server.server_address[:2], timeout=10)
            conn.request("GET", url.split(server.base_url, 1)[1])
            response = conn.getresponse()
            assert response.status == 410 and response.read().decode().strip() == EXPIRED_MAP
    finally:
        server.stop()
    third = build(demo_store, maps)
    assert sorted(p.stem for p in maps.iterdir() if p.suffix == ".html") == [third.html_path.stem]
    for snapshot_id in (first.snapshot_id, second.snapshot_id):
        kept = demo_store.load_snapshot(snapshot_id)
        sentences = [s for c in kept.clusters.values() for s in c.sentences]
        assert not [s for s in sentences if s.strip() and s.strip() in person.text]


class OptOutDuringEncode(HashingEmbedder):
    """The hashing embedder, but someone opts out while their text is being embedded."""

    def __init__(self, store, person_id):
        super().__init__()
        self.store, self.person_id, self.done = store, person_id, False

    def encode(self, texts):
        if not self.done:
            self.done = True
            self.store.forget_person(self.person_id)
            self.store.set_consent(self.person_id, True)
        return super().encode(texts)


def test_opt_out_during_a_build_wins(demo_store, tmp_path):
    """A build that read the person's text before they opted out saves no snapshot with
    them and leaves no vector of theirs in the cache (issue 9.3)."""
    person = demo_store.documents("demo")[3]
    with demo_store._db.transaction() as conn:
        conn.execute("DELETE FROM embeddings")
    embedder = OptOutDuringEncode(demo_store, person.person_id)
    built = rebuild(demo_store, "demo", PipelineParams(), embedder, outputs=tmp_path / "maps")
    latest = demo_store.latest_snapshot("demo")
    assert person.person_id not in {d.person_id for d in latest.people}
    assert person.person_id not in {d.person_id for d in built.result.people}
    assert demo_store.get_embeddings(embedder.model_id, [text_hash(person.text)]) == {}
    assert person.name not in built.html_path.read_text(encoding="utf-8")


def test_snapshots_and_files_older_than_the_retention_go(demo_data_dir, maps):
    """map_retention_days: older snapshots and their files are deleted at the next build;
    the latest always stays (issue 9.2)."""
    with Store(demo_data_dir / "batchviz.sqlite3", retention_days=30) as store:
        old = build(store, maps)
        long_ago = (datetime.now(timezone.utc) - timedelta(days=31)).isoformat()
        with store._db.transaction() as conn:
            conn.execute("UPDATE snapshots SET saved_at = ?", (long_ago,))
        new = build(store, maps)
        assert store.snapshot_ids("demo") == [new.snapshot_id]
        assert not old.html_path.exists() and new.html_path.exists()
