"""Who may read what, as Zulip decides it, and where answers may go (issue 9, items 1
and 5; issue 10, item 5). A real bot against the test server."""

from __future__ import annotations

import threading

import pytest

from bot.directory import Directory
from bot.dispatch import NOT_ALLOWED, SENT_BY_DM
from bot.settings_parse import SettingsError

GUEST = 600


def dms_to(realm, person) -> list[str]:
    return [m.content for m in realm.server.messages_sent_by(realm.bot)
            if m.type != "stream" and person.user_id in m.recipients]


def posts_in(realm, stream: str) -> list[str]:
    stream_id = realm.server.realm.stream(stream).stream_id
    return [m.content for m in realm.server.messages_sent_by(realm.bot)
            if m.type == "stream" and m.stream_id == stream_id]


@pytest.fixture
def private_welcome(realm):
    """The introductions are in a private stream that Alice (not Bob) reads."""
    server = realm.server
    server.add_stream("private-welcome", invite_only=True, subscribers=[realm.bot, realm.alice])
    server.send_stream_message(realm.alice, "private-welcome", realm.topic, "I sail and tie knots.")
    return "private-welcome"


def test_answer_about_a_private_source_asked_in_a_public_stream_goes_by_dm(
        realm, private_welcome, make_settings, start_bot, wait_for):
    """Alice may read the private source, but Bob reads #general: the answer goes to
    Alice by DM and #general only hears that it did (issue 9.1)."""
    bot = start_bot(make_settings(stream=private_welcome, post_stream=private_welcome))
    wait_for(lambda: bot.store.message_count("main") == 1, what="the backfill")
    realm.server.send_stream_message(realm.alice, "general", "chat", "@**Map Bot** status")
    [answer] = wait_for(lambda: dms_to(realm, realm.alice), what="the DM answer")
    assert "Introductions stored: 1" in answer
    assert wait_for(lambda: posts_in(realm, "general"), what="the note") == [SENT_BY_DM]


def test_weekly_post_stream_that_would_leak_a_private_source_stops_the_start(
        realm, private_welcome, make_settings, make_io):
    """post_stream is checked at start against the same rule (issue 9.1)."""
    from bot.runner import Bot

    bot = Bot(make_settings(stream=private_welcome, post_stream="general"), client_factory=make_io,
              background_schedules=False)
    with pytest.raises(SettingsError, match="post_stream"):
        bot.start()
    bot.store.close()


def test_a_guest_cannot_read_a_public_stream_they_are_not_in(realm, make_io):
    """Zulip's rule: a guest reads only the streams they are subscribed to (issue 9.5)."""
    guest = realm.server.add_user("Gina Guest")
    guest.role = GUEST
    directory = Directory(make_io())
    assert not directory.can_read(guest.user_id, realm.welcome)
    assert directory.can_read(realm.bob.user_id, realm.welcome)  # a member does
    realm.server.subscribe(guest, realm.welcome)
    assert Directory(make_io()).can_read(guest.user_id, realm.welcome)


def test_a_stream_made_private_stops_answering_outsiders(realm, make_io):
    """Stream data is not cached for the life of the process: within the TTL a change of
    privacy is seen (issue 9.5)."""
    now = [0.0]
    directory = Directory(make_io(), ttl=30, clock=lambda: now[0])
    stream = realm.server.realm.stream(realm.welcome)
    stranger = realm.server.add_user("Sam Stranger")
    assert directory.can_read(stranger.user_id, realm.welcome)
    stream.invite_only = True
    now[0] += 31
    assert not directory.can_read(stranger.user_id, realm.welcome)


def test_protected_history_is_readable_by_nobody_in_full(realm, make_io):
    """In a private stream with protected history a subscriber sees only what came after
    they joined, so nobody is given the whole map (issue 9.5)."""
    realm.server.add_stream("vault", invite_only=True, subscribers=[realm.bot, realm.alice])
    realm.server.realm.stream("vault").history_public_to_subscribers = False
    assert not Directory(make_io()).can_read(realm.alice.user_id, "vault")


def test_no_lock_is_held_across_the_network(realm, make_io, wait_for):
    """While one thread waits on a slow `get_members`, another thread's lookup of a
    stream is answered (issue 10.5): the lock guards the cache, never a call."""
    io = make_io()
    directory = Directory(io)
    directory.stream_named(realm.welcome)  # streams cached
    release, entered = threading.Event(), threading.Event()
    real_call = io.call

    def slow_call(name, *args, **kwargs):
        if name == "get_members":
            entered.set()
            release.wait(30)
        return real_call(name, *args, **kwargs)

    io.call = slow_call
    slow = threading.Thread(target=directory.is_bot, args=(realm.bob.user_id,))
    slow.start()
    try:
        assert entered.wait(10)
        found = []
        fast = threading.Thread(target=lambda: found.append(directory.stream_named(realm.welcome)))
        fast.start()
        fast.join(10)
        assert found and found[0]["name"] == realm.welcome
    finally:
        release.set()
        slow.join(10)


def test_refused_asker_in_a_public_stream_is_told_by_dm(realm, private_welcome, make_settings,
                                                       start_bot, wait_for):
    """Bob cannot read the source; his question in #welcome (public) about the private
    source gets the refusal, by DM, and the public stream learns nothing of the source."""
    start_bot(make_settings(stream=private_welcome, post_stream=private_welcome))
    realm.server.send_stream_message(realm.bob, "general", "chat", "@**Map Bot** clusters")
    [refusal] = wait_for(lambda: dms_to(realm, realm.bob), what="the refusal")
    assert refusal.startswith(NOT_ALLOWED.split("{")[0])
    assert "private-welcome" not in " ".join(posts_in(realm, "general"))


def test_a_private_target_needs_every_reader_to_read_the_source(realm, private_welcome, make_io):
    """A private stream where Alice (who reads the private source) and Bob (who does not)
    both read may not carry the source's data: every reader must be able to read it, not
    just one (issue 28)."""
    realm.server.add_stream("crew", invite_only=True, subscribers=[realm.bot, realm.alice])
    directory = Directory(make_io())
    assert directory.may_post("crew", private_welcome)  # everyone there reads the source
    realm.server.subscribe(realm.bob, "crew")
    assert not Directory(make_io()).may_post("crew", private_welcome)


def test_a_web_public_target_needs_a_web_public_source(realm, make_io):
    """Anyone on the internet reads a web-public stream: a source that is only public to
    the organisation's members may not be posted there (issue 28)."""
    realm.server.add_stream("showcase")
    realm.server.realm.stream("showcase").is_web_public = True
    assert not Directory(make_io()).may_post("showcase", realm.welcome)
    realm.server.realm.stream(realm.welcome).is_web_public = True
    assert Directory(make_io()).may_post("showcase", realm.welcome)


def test_refusal_does_not_name_a_private_source(realm, private_welcome, make_settings, start_bot, wait_for):
    """Bob, who may not know the private source exists, is refused without its stream or
    topic being named (issue 21.10)."""
    start_bot(make_settings(stream=private_welcome, post_stream=private_welcome))
    realm.server.send_dm(realm.bob, realm.bot, "clusters")
    [refusal] = wait_for(lambda: dms_to(realm, realm.bob), what="the refusal")
    assert refusal.startswith(NOT_ALLOWED.split("{")[0])
    assert private_welcome not in refusal and "#**" not in refusal


def test_greeting_does_not_name_a_private_source(realm, private_welcome, make_settings, start_bot, wait_for):
    """Added to a stream Bob reads, the bot's hello does not name the private source
    (issue 21.10)."""
    start_bot(make_settings(stream=private_welcome, post_stream=private_welcome))
    realm.server.add_stream("random", subscribers=[realm.alice, realm.bob])
    realm.server.subscribe(realm.bot, "random")
    [hello] = wait_for(lambda: posts_in(realm, "random"), what="the hello")
    assert hello.startswith("Hello!") and private_welcome not in hello and "#**" not in hello
