"""Opting out forgets a person's texts everywhere and keeps their new messages out."""

from __future__ import annotations

import numpy as np

from pipeline.documents import text_hash

MODELS = ("model-a", "model-b")


def vector(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=16).astype(np.float32)


def introduce(store):
    """Ada (10) writes two messages in two sources, Bob (20) one; their texts are cached."""
    store.upsert_person("10", "Ada")
    store.upsert_message("welcome", 1, "10", "I *paint*", "I paint", 100)
    store.upsert_message("welcome", 2, "10", "and sing", "and sing", 200)
    store.upsert_message("other", 3, "10", "hi there", "hi there", 300)
    store.upsert_message("welcome", 4, "20", "Bob", "I am Bob", 150)
    texts = ["I paint", "and sing", "I paint\n\nand sing", "hi there", "I am Bob"]
    for model in MODELS:
        store.put_embeddings(model, {text_hash(t): vector(i) for i, t in enumerate(texts)})


def test_opt_out_deletes_messages_and_cached_embeddings_on_disk(store, query):
    """After opting out, the file holds none of the person's messages or text vectors."""
    introduce(store)
    store.set_consent("10", True)
    assert query("SELECT count(*) FROM messages WHERE user_id = '10'") == [(0,)]
    ada_hashes = [text_hash(t) for t in ("I paint", "and sing", "I paint\n\nand sing", "hi there")]
    marks = ",".join("?" * len(ada_hashes))
    assert query(f"SELECT count(*) FROM embeddings WHERE text_hash IN ({marks})",
                 tuple(ada_hashes)) == [(0,)]
    assert query("SELECT count(*) FROM embeddings WHERE text_hash = ?",
                 (text_hash("I am Bob"),)) == [(len(MODELS),)]
    assert [d.person_id for d in store.documents("welcome")] == ["20"]
    assert store.opted_out("10") and not store.opted_out("20")


def test_opt_out_blocks_future_messages(store, query):
    """A new message or edit from someone opted out is not stored at all."""
    introduce(store)
    store.set_consent("10", True)
    assert store.upsert_message("welcome", 9, "10", "new", "new", 900) is False
    assert store.upsert_message("welcome", 1, "10", "edited", "edited", 100) is False
    assert query("SELECT count(*) FROM messages WHERE user_id = '10'") == [(0,)]
    assert store.last_message_id("welcome") == 9


def test_opt_out_before_ever_posting_is_remembered(store):
    """Opting out works for someone the store has never seen."""
    store.set_consent(55, True)
    assert store.opted_out("55")
    assert store.upsert_message("welcome", 1, 55, "x", "x", 1) is False
    assert store.documents("welcome") == []


def test_opt_in_lets_new_messages_in_again(store):
    """After opting back in, the person's next message makes a document again."""
    introduce(store)
    store.set_consent("10", True)
    store.set_consent("10", False)
    assert not store.opted_out("10")
    assert store.documents("welcome")[0].person_id == "20"  # old messages stay forgotten
    assert store.upsert_message("welcome", 9, "10", "back", "back", 900) is True
    assert [d.person_id for d in store.documents("welcome")] == ["20", "10"]


def test_everyone_opted_out_in_one_read(store):
    """`opted_out_ids`: who is opted out now (an answer reads it once, not per person)."""
    introduce(store)
    store.set_consent("10", True)
    store.set_consent(55, True)
    store.set_consent(55, False)
    store.set_consent(77, True)
    assert store.opted_out_ids() == {"10", "77"}


def test_forget_removes_words_from_stored_maps(store, query, make_result):
    """Stored snapshots keep the person's place but lose their id, text and its vectors."""
    result = make_result(n=3)
    person = result.people[1]
    store.put_embeddings("model-a", {text_hash(person.text): vector(1)})
    store.save_snapshot("welcome", result)
    store.set_consent(person.person_id, True)
    assert query("SELECT person_id, text, raw FROM snapshot_people WHERE position = 1") == [("", "", "")]
    assert store.get_embeddings("model-a", [text_hash(person.text)]) == {}
    latest = store.latest_snapshot("welcome")
    assert len(latest) == 3 and latest.people[0].text == result.people[0].text


def test_forget_person_alone_keeps_consent(store):
    """forget_person deletes texts but does not opt the person out."""
    introduce(store)
    assert store.forget_person("10") == 3
    assert not store.opted_out("10")
    assert store.upsert_message("welcome", 9, "10", "again", "again", 900) is True
