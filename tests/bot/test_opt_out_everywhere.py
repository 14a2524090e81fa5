"""Opting out reaches everything at once (issue 21, item 2): the map an answerer holds in
memory (in this process or another: the ``zulip_bots`` handler), the stored snapshots'
rows (embedding, id, neighbours) and their files. Real stores on a copy of the demo map."""

from __future__ import annotations

import numpy as np

from bot.answers import Answerer, Asker, md
from bot.commands import parse
from storage import Store
from storage.withdraw import GONE


def _show(answerer: Answerer, number: int) -> str:
    return answerer.answer(parse(f"show group {number}"), Asker("nobody", "Nobody"))


def test_a_map_held_in_another_process_stops_quoting_at_once(quoting_db):
    """An answerer holds the map; the person opts out through another store (another
    process): the held answerer's next answer no longer quotes them."""
    with Store(quoting_db.path) as handler_store, Store(quoting_db.path) as runner_store:
        held = Answerer(handler_store, "demo")
        assert md(quoting_db.sentence) in _show(held, quoting_db.group)  # read in and held
        Answerer(runner_store, "demo").answer(parse("opt out"), Asker(quoting_db.author, "Author"))
        reply = _show(held, quoting_db.group)
    assert md(quoting_db.sentence) not in reply


def test_stored_snapshots_keep_no_embedding_id_or_neighbour_of_the_person(demo_store):
    """Every stored snapshot: the person's row is an anonymous blank, their embedding
    row zero, and no neighbour list leads to them; everyone else is untouched."""
    before = demo_store.latest_snapshot("demo")
    leaver = before.people[3].person_id
    demo_store.set_consent(leaver, True)
    after = demo_store.latest_snapshot("demo")
    assert leaver not in {doc.person_id for doc in after.people}
    assert after.people[3].person_id == GONE and after.people[3].text == ""
    assert not after.embeddings[3].any()
    others = [i for i in range(len(before)) if i != 3]
    assert np.array_equal(after.embeddings[others], before.embeddings[others])
    assert after.neighbours[3] == [] and all(n.index != 3 for row in after.neighbours for n in row)


def test_a_map_that_showed_someone_who_opted_out_is_never_served_again(demo_store):
    """Its files show the person: opting back in does not make them servable again."""
    result = demo_store.latest_snapshot("demo")
    snapshot = demo_store.save_snapshot("demo", result, files="a-map-with-its-files-here")
    assert demo_store.servable_files(snapshot) == "a-map-with-its-files-here"
    leaver = result.people[0].person_id
    demo_store.set_consent(leaver, True)
    demo_store.set_consent(leaver, False)
    assert demo_store.servable_files(snapshot) is None
