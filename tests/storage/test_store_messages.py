"""People, messages and the documents built from them."""

from __future__ import annotations

import pytest

from pipeline.documents import text_hash

SOURCE = "welcome"


def post(store, message_id, user_id, clean, timestamp, source=SOURCE, raw=None):
    return store.upsert_message(source, message_id, user_id, raw or f"**{clean}**", clean,
                                timestamp, stream="intros", topic="hello")


def test_upsert_is_idempotent_and_reports_changes(store):
    """Inserting is a change, the same content again is not, an edit is."""
    assert post(store, 1, "10", "I like chess", 100) is True
    assert post(store, 1, "10", "I like chess", 100) is False
    assert post(store, 1, "10", "I like go", 100) is True
    assert store.message_count(SOURCE) == 1


def test_an_edit_changes_the_document(store):
    """The document carries the edited text and raw, not the original."""
    post(store, 1, "10", "I like chess", 100)
    post(store, 1, "10", "I like go", 100, raw="I like *go*")
    [doc] = store.documents(SOURCE)
    assert (doc.text, doc.raw) == ("I like go", "I like *go*")
    assert doc.text_hash == text_hash("I like go")


def test_documents_join_each_persons_messages_in_time_order(store):
    """One document per person, messages joined by time then id, people by first message."""
    store.upsert_person("10", "Ada Lovelace", "ada@example.com")
    post(store, 3, "10", "second", 300)
    post(store, 1, "10", "first", 100)
    post(store, 2, "20", "bob here", 200)
    post(store, 5, "20", "same time, later id", 400)
    post(store, 4, "20", "same time, earlier id", 400)
    docs = store.documents(SOURCE)
    assert [d.person_id for d in docs] == ["10", "20"]
    assert docs[0].name == "Ada Lovelace"
    assert docs[0].text == "first\n\nsecond"
    assert docs[0].raw == "**first**\n\n**second**"
    assert docs[1].text == "bob here\n\nsame time, earlier id\n\nsame time, later id"
    assert docs[1].extra["message_ids"] == [2, 4, 5]


def test_people_without_text_are_left_out(store):
    """A person whose messages clean to nothing (an image, a mention) has no document."""
    post(store, 1, "10", "  ", 100, raw="![](/user_uploads/cat.png)")
    post(store, 2, "20", "real words", 200)
    post(store, 3, "20", "", 300)
    docs = store.documents(SOURCE)
    assert [d.person_id for d in docs] == ["20"]
    assert docs[0].text == "real words"


def test_a_person_without_a_name_is_named_by_id(store):
    """Messages from someone never upserted as a person still make a named document."""
    post(store, 1, 77, "hello", 100)
    assert [(d.person_id, d.name) for d in store.documents(SOURCE)] == [("77", "77")]


def test_an_empty_name_does_not_erase_a_known_one(store):
    """upsert_person with no name keeps the stored name; a new name replaces it."""
    store.upsert_person("10", "Ada")
    store.upsert_person("10", "")
    post(store, 1, "10", "hello", 100)
    assert store.documents(SOURCE)[0].name == "Ada"
    store.upsert_person("10", "Ada L.")
    assert store.documents(SOURCE)[0].name == "Ada L."


def test_sources_are_separate(store):
    """Documents, counts and anchors belong to one source each."""
    post(store, 1, "10", "welcome text", 100)
    post(store, 2, "20", "other text", 100, source="other")
    assert [d.text for d in store.documents(SOURCE)] == ["welcome text"]
    assert [d.text for d in store.documents("other")] == ["other text"]
    assert (store.message_count(SOURCE), store.last_message_id("other")) == (1, 2)


def test_delete_removes_the_message_but_not_the_anchor(store):
    """A deleted message leaves the documents; the backfill anchor stays where it was."""
    post(store, 1, "10", "keep", 100)
    post(store, 2, "20", "remove me", 200)
    assert store.delete_message(2) is True
    assert store.delete_message(2) is False
    assert [d.person_id for d in store.documents(SOURCE)] == ["10"]
    assert store.last_message_id(SOURCE) == 2


def test_last_message_id_is_the_largest_seen(store):
    """The anchor is the largest id, whatever the order messages arrived in."""
    assert store.last_message_id(SOURCE) is None
    post(store, 9, "10", "late", 900)
    post(store, 4, "20", "backfilled", 400)
    assert store.last_message_id(SOURCE) == 9


def test_move_to_another_source_and_out(store):
    """A moved message changes source; moving to None removes it."""
    post(store, 1, "10", "moving", 100)
    assert store.move_message(1, "other") is True
    assert store.move_message(1, "other") is False
    assert (store.message_count(SOURCE), store.message_count("other")) == (0, 1)
    assert store.last_message_id("other") == 1
    assert store.move_message(1, None) is True
    assert store.message_count("other") == 0
    assert store.move_message(1, "other") is False


def test_upsert_with_another_source_moves_the_message(store):
    """Re-ingesting a message under a new source is a change and moves it."""
    post(store, 1, "10", "moving", 100)
    assert post(store, 1, "10", "moving", 100, source="other") is True
    assert [d.text for d in store.documents("other")] == ["moving"]
    assert store.documents(SOURCE) == []


def test_hostile_text_is_stored_as_given(store):
    """HTML, huge text and NUL survive; a lone surrogate becomes a replacement mark."""
    html = "<script>alert('x')</script> & <b>me</b>"
    huge = "word " * 200_000
    store.upsert_person("10", "<img src=x onerror=alert(1)>")
    post(store, 1, "10", html, 100)
    post(store, 2, "20", huge + "\x00end", 200)
    post(store, 3, "30", "bad \ud800 half", 300)
    docs = store.documents(SOURCE)
    assert docs[0].name == "<img src=x onerror=alert(1)>"
    assert [d.text for d in docs[:2]] == [html, (huge + "\x00end").strip()]
    assert "\ud800" not in docs[2].text and docs[2].text.startswith("bad ")


@pytest.mark.parametrize("bad, error", [
    ({"message_id": "12"}, TypeError),
    ({"message_id": 1.5}, TypeError),
    ({"user_id": "  "}, ValueError),
    ({"source": ""}, ValueError),
    ({"timestamp": None}, TypeError),
    ({"clean": 5}, TypeError),
])
def test_bad_values_are_refused_with_the_field_named(store, bad, error):
    """A wrong type or an empty key names the field and stores nothing."""
    args = {"source": SOURCE, "message_id": 1, "user_id": "10", "raw": "r", "clean": "c",
            "timestamp": 100, **bad}
    with pytest.raises(error, match=next(iter(bad))):
        store.upsert_message(**args)
    assert store.message_count(SOURCE) == 0


def test_message_ids_include_messages_with_no_text(store):
    """A message that cleaned to nothing (only a quote) is still listed, so a resync can forget it."""
    post(store, 1, "10", "I like chess", 100)
    post(store, 2, "11", "", 101, raw="> someone else's words")
    post(store, 3, "12", "elsewhere", 102, source="other")
    assert store.message_ids(SOURCE) == {1, 2}
    assert [doc.person_id for doc in store.documents(SOURCE)] == ["10"]


def test_sources_of_a_person(store):
    """The sources a person has posted in, and none for someone who hasn't."""
    post(store, 1, "10", "I like chess", 100)
    post(store, 2, "10", "I like go", 101, source="other")
    post(store, 3, "11", "I like tea", 102)
    assert store.sources_of("10") == {SOURCE, "other"}
    assert store.sources_of("12") == set()
