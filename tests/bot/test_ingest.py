"""Ingestion from the test server into a real SQLite store: backfill and events."""

from __future__ import annotations

import pytest

from bot.directory import Directory
from bot.ingest import Ingestor
from bot.zulip_io import PAGE_SIZE
from bot.settings import Source
from storage import Store
from zulip_server import wait_until


@pytest.fixture
def store(tmp_path):
    with Store(tmp_path / "bot.sqlite3") as opened:
        yield opened


@pytest.fixture
def intro(realm):
    return Source("intro", realm.welcome, topic=realm.topic)


@pytest.fixture
def ingestor(realm, make_io, store, intro):
    io = make_io()
    return Ingestor(store, [intro], io, Directory(io), realm.bot.user_id)


class Queue:
    """A real event queue of the bot's, read without blocking."""

    def __init__(self, io):
        self.io = io
        answer = io.call("register", event_types=["message", "update_message", "delete_message"],
                         apply_markdown=False)
        self.queue_id, self.last = answer["queue_id"], answer["last_event_id"]

    def events(self) -> list[dict]:
        answer = self.io.call("get_events", queue_id=self.queue_id, last_event_id=self.last,
                              dont_block=True)
        events = [e for e in answer["events"] if e["type"] != "heartbeat"]
        self.last = max([self.last] + [e["id"] for e in answer["events"]])
        return events


def texts(store, source="intro") -> dict[str, str]:
    return {doc.name: doc.raw for doc in store.documents(source)}


def test_backfill_pages_through_more_than_a_thousand(realm, ingestor, store, intro):
    """A topic of 1,250 messages is read completely, in pages, and a rerun adds nothing."""
    server = realm.server
    total = PAGE_SIZE + 250
    for i in range(total):
        server.send_stream_message(realm.alice if i % 2 else realm.bob, realm.welcome, realm.topic, f"hello {i}")
    server.send_stream_message(realm.alice, realm.welcome, "other topic", "not an introduction")
    assert ingestor.backfill(intro) is True
    assert store.message_count("intro") == total
    assert server.count("GET /messages") >= 2
    before = server.count("GET /messages")
    assert ingestor.backfill(intro) is False
    assert server.count("GET /messages") == before + 1
    assert store.message_count("intro") == total


def test_backfill_keeps_raw_and_cleans_markdown(realm, ingestor, store, intro):
    """The raw Markdown is kept, the cleaned text drops quotes, and people are stored."""
    raw = "I love **sailing**.\n```quote\nsomeone else's words\n```"
    realm.server.send_stream_message(realm.alice, realm.welcome, realm.topic, raw)
    ingestor.backfill(intro)
    [doc] = store.documents("intro")
    assert doc.name == "Alice Archer" and doc.raw == raw
    assert "sailing" in doc.text and "someone else" not in doc.text


def test_bots_and_opted_out_people_are_skipped(realm, ingestor, store, intro):
    """Messages of other bots, of the bot itself and of people who opted out are not stored."""
    server = realm.server
    store.set_consent(str(realm.bob.user_id), True)
    for sender in (realm.bot, realm.other_bot, realm.bob, realm.alice):
        server.send_stream_message(sender, realm.welcome, realm.topic, f"I am {sender.full_name}")
    ingestor.backfill(intro)
    assert list(texts(store)) == ["Alice Archer"]


def test_topic_pattern_source(realm, make_io, store):
    """A source with a topic pattern takes every matching topic of its stream."""
    io = make_io()
    source = Source("pattern", realm.welcome, topic_pattern=r"^intro")
    ingestor = Ingestor(store, [source], io, Directory(io), realm.bot.user_id)
    server = realm.server
    server.send_stream_message(realm.alice, realm.welcome, "Introductions 2024", "I knit")
    server.send_stream_message(realm.bob, realm.welcome, "random", "lunch?")
    ingestor.backfill(source)
    assert texts(store, "pattern") == {"Alice Archer": "I knit"}


def test_live_message_edit_and_delete(realm, ingestor, store, make_io):
    """Events add a new introduction, apply its edit, then remove it on deletion."""
    queue, server = Queue(make_io()), realm.server
    message_id = server.send_stream_message(realm.alice, realm.welcome, realm.topic, "I paint")
    assert [ingestor.handle_event(e) for e in queue.events()] == [True]
    server.edit_message(message_id, content="I paint and sculpt")
    assert [ingestor.handle_event(e) for e in queue.events()] == [True]
    assert texts(store) == {"Alice Archer": "I paint and sculpt"}
    server.delete_message(message_id)
    assert [ingestor.handle_event(e) for e in queue.events()] == [True]
    assert texts(store) == {}


def test_edits_take_their_text_from_the_event(realm, ingestor, store, make_io):
    """An edit's new text comes from the event: editing a stored introduction, or a
    message in another stream, makes no request for the message (issue 21.7)."""
    queue, server = Queue(make_io()), realm.server
    intro_id = server.send_stream_message(realm.alice, realm.welcome, realm.topic, "I paint")
    chat_id = server.send_stream_message(realm.bob, "general", "chat", "lunch?")
    [ingestor.handle_event(e) for e in queue.events()]
    before = server.count("GET /messages/{message_id}")
    server.edit_message(intro_id, content="I paint and **sculpt**")
    server.edit_message(chat_id, content="lunch at noon?")
    assert [ingestor.handle_event(e) for e in queue.events()] == [True, False]
    assert texts(store) == {"Alice Archer": "I paint and **sculpt**"}
    assert store.documents("intro")[0].text == "I paint and sculpt"
    assert server.count("GET /messages/{message_id}") == before


def test_topic_moves_out_of_and_into_the_source(realm, ingestor, store, make_io):
    """Moving a topic away forgets its messages; moving it back brings them again."""
    queue, server = Queue(make_io()), realm.server
    ids = [server.send_stream_message(p, realm.welcome, realm.topic, f"hi from {p.full_name}")
           for p in (realm.alice, realm.bob)]
    for event in queue.events():
        ingestor.handle_event(event)
    server.edit_message(ids[0], topic="off topic", propagate_mode="change_all")
    assert any(ingestor.handle_event(e) for e in queue.events())
    assert list(texts(store)) == ["Bob Baker"]
    server.edit_message(ids[0], topic=realm.topic, stream="welcome", propagate_mode="change_one")
    assert any(ingestor.handle_event(e) for e in queue.events())
    assert set(texts(store)) == {"Alice Archer", "Bob Baker"}


def test_stream_move_into_the_source(realm, ingestor, store, make_io):
    """A message moved from another stream into the welcome topic is ingested."""
    queue, server = Queue(make_io()), realm.server
    message_id = server.send_stream_message(realm.alice, "general", "hello", "I climb mountains")
    for event in queue.events():
        assert ingestor.handle_event(event) is False
    server.edit_message(message_id, topic=realm.topic, stream=realm.welcome, propagate_mode="change_one")
    assert any(ingestor.handle_event(e) for e in queue.events())
    assert texts(store) == {"Alice Archer": "I climb mountains"}


def test_events_are_idempotent(realm, ingestor, store, make_io):
    """The same message event applied twice stores the message once and reports no change."""
    queue = Queue(make_io())
    realm.server.send_stream_message(realm.alice, realm.welcome, realm.topic, "I sing")
    [event] = queue.events()
    assert ingestor.handle_event(event) is True
    assert ingestor.handle_event(event) is False
    assert store.message_count("intro") == 1


def test_resync_applies_edits_deletions_and_moves_made_while_away(realm, ingestor, store, intro):
    """A full resync catches edits, deletions and moves out that no event reported."""
    server = realm.server
    carol = server.add_user("Carol Cook")
    server.subscribe(carol, realm.welcome)
    ids = {p.full_name: server.send_stream_message(p, realm.welcome, realm.topic, f"I am {p.full_name}")
           for p in (realm.alice, realm.bob, carol)}
    ingestor.backfill(intro)
    server.edit_message(ids["Alice Archer"], content="I am Alice and I row")
    server.delete_message(ids["Bob Baker"])
    server.edit_message(ids["Carol Cook"], topic="off topic", propagate_mode="change_one")
    assert ingestor.backfill(intro) is False  # reading forward sees none of it
    assert ingestor.resync(intro) is True
    assert texts(store) == {"Alice Archer": "I am Alice and I row"}
    assert store.message_count("intro") == 1
    assert ingestor.resync(intro) is False  # idempotent


def test_resync_never_stores_opted_out_people(realm, ingestor, store, intro):
    """Resync reads an opted-out person's introduction but does not store it."""
    server = realm.server
    store.set_consent(str(realm.bob.user_id), True)
    for person in (realm.alice, realm.bob):
        server.send_stream_message(person, realm.welcome, realm.topic, f"I am {person.full_name}")
    ingestor.resync(intro)
    assert list(texts(store)) == ["Alice Archer"]
    assert store.message_count("intro") == 1


def test_a_new_introduction_gets_one_reaction_and_nothing_else_does(realm, store, intro, make_io):
    """Each new introduction stored gets the setting's emoji once; its edit, another topic's
    message and (with the setting empty) further intros get none."""
    io, server = make_io(), realm.server
    reacting = Ingestor(store, [intro], io, Directory(io), realm.bot.user_id, react_with="wave")
    queue = Queue(make_io())
    first = server.send_stream_message(realm.alice, realm.welcome, realm.topic, "I paint")
    elsewhere = server.send_stream_message(realm.bob, realm.welcome, "chat", "hello all")
    server.edit_message(first, content="I paint and sculpt")
    for event in queue.events():
        reacting.handle_event(event)
    wait_until(lambda: server.realm.messages[first].reactions, 10, interval=0.02)
    reacting.close()
    silent = Ingestor(store, [intro], io, Directory(io), realm.bot.user_id, react_with="")
    unacknowledged = server.send_stream_message(realm.bob, realm.welcome, realm.topic, "I bake")
    assert [silent.handle_event(e) for e in queue.events()] == [True]
    reactions = {i: server.realm.messages[i].reactions for i in (first, elsewhere, unacknowledged)}
    assert reactions == {first: [{"emoji_name": "wave", "user_id": realm.bot.user_id}],
                         elsewhere: [], unacknowledged: []}
