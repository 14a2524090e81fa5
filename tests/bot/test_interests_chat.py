"""`who's into` through the real bot and the Zulip test server: by DM, by mention, and across
batches, one of them private, whose people never reach someone who cannot read it."""

from __future__ import annotations

from bot.dispatch import SENT_BY_DM


def replies_to(realm, person) -> list[str]:
    return [m.content for m in realm.server.messages_sent_by(realm.bot) if person.user_id in m.recipients]


def stream_posts(realm, stream: str) -> list[str]:
    stream_id = realm.server.realm.stream(stream).stream_id
    return [m.content for m in realm.server.messages_sent_by(realm.bot) if m.type == "stream" and m.stream_id == stream_id]


def mention(person) -> str:
    return f"@_**|{person.user_id}**"  # a silent mention by id; Zulip shows the current name


def built(bot, wait_for, counts: dict[str, int]) -> None:
    """Every source's introductions read and its map built (in the bot's build worker)."""
    for source in bot.settings.sources:
        wait_for(lambda: bot.store.message_count(source.name) == counts[source.name], what=f"{source.name} read")
        bot.refresher.refresh(source)


def test_who_is_into_by_dm_and_by_mention(realm, start_bot, wait_for):
    """The topic is embedded by the bot's query process; the people who wrote it are listed."""
    server = realm.server
    carol, dave = server.add_user("Carol Cook"), server.add_user("Dave Diver")
    for person, text in ((realm.alice, "I love sailing, knots and boats on the sea."),
                         (realm.bob, "Baking sourdough bread and pastry is my weekend."),
                         (carol, "Sailing the coast in small boats, and knots."),
                         (dave, "Bread, pastry, sourdough: I bake every day.")):
        server.subscribe(person, realm.welcome)
        server.send_stream_message(person, realm.welcome, realm.topic, text)
    bot = start_bot()
    built(bot, wait_for, {"main": 4})
    server.send_dm(realm.alice, realm.bot, "who's into sourdough?")
    [reply] = wait_for(lambda: replies_to(realm, realm.alice), timeout=60, what="the DM answer")
    assert mention(realm.bob) in reply and mention(dave) in reply and mention(carol) not in reply
    assert "#find=sourdough&ids=" in reply
    server.send_stream_message(realm.bob, "general", "chat", "@**Map Bot** anyone into sailing?")
    [post] = wait_for(lambda: stream_posts(realm, "general"), timeout=60, what="the stream answer")
    assert mention(realm.alice) in post and mention(carol) in post and mention(dave) not in post


def test_everywhere_searches_only_the_batches_the_asker_can_read(realm, make_settings, start_bot, wait_for):
    """Bob cannot read the private batch: his `everywhere` answer holds none of it; Alice's
    holds both batches, each labelled, and goes by DM when asked where Bob could read it."""
    server = realm.server
    carol = server.add_user("Carol Cook")
    server.add_stream("secret", invite_only=True, subscribers=[realm.bot, realm.alice, carol])
    server.send_stream_message(realm.alice, realm.welcome, realm.topic, "I write compilers in Rust.")
    server.send_stream_message(realm.bob, realm.welcome, realm.topic, "I knit and garden.")
    server.send_stream_message(carol, "secret", "intros", "Rust on microcontrollers, firmware all day.")
    bot = start_bot(make_settings("\n[batchviz:source secret]\nstream = secret\ntopic = intros\n",
                                  post_stream="secret"))
    built(bot, wait_for, {"main": 2, "secret": 1})
    server.send_dm(realm.bob, realm.bot, "who's into rust everywhere")
    [reply] = wait_for(lambda: replies_to(realm, realm.bob), timeout=60, what="Bob's answer")
    assert "In #**welcome>introductions**" in reply and mention(realm.alice) in reply
    assert "secret" not in reply and mention(carol) not in reply and "firmware" not in reply
    server.send_dm(realm.alice, realm.bot, "who's into rust everywhere")
    [reply] = wait_for(lambda: replies_to(realm, realm.alice), timeout=60, what="Alice's answer")
    assert "In #**welcome>introductions**" in reply and "In #**secret>intros**" in reply and mention(carol) in reply
    server.send_stream_message(realm.alice, "general", "chat", "@**Map Bot** who's into rust everywhere")
    wait_for(lambda: len(replies_to(realm, realm.alice)) == 2, timeout=60, what="Alice's second answer, by DM")
    wait_for(lambda: stream_posts(realm, "general"), timeout=30, what="the note in #general that the answer went by DM")
    assert stream_posts(realm, "general") == [SENT_BY_DM] and mention(carol) in replies_to(realm, realm.alice)[1]
