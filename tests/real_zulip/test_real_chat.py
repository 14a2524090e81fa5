"""Start-up and every command, as a person sees them in a real Zulip."""

from __future__ import annotations

import re

from real_zulip.harness import TOPIC, at_least, wait_for

INTROS = {
    "Ada": "Hi! I write compilers and love LLVM, register allocation and parsing.",
    "Bea": "Hello, I build compilers in Rust: parsers, type checkers, code generation.",
    "Cal": "I'm into compilers: SSA form, LLVM passes and instruction selection.",
    "Dee": "I make music with synthesizers, MIDI controllers and a modular rack.",
    "Eve": "Musician here: jazz piano, synthesizers and writing songs with MIDI.",
    "Fay": "I compose electronic music and build my own synthesizers and drum machines.",
}
COMMANDS = ["help", "who's near me", "clusters", "show cluster 1", "map", "status"]


def _world_with_intros(world):
    people = {name: world.person(name) for name in INTROS}
    welcome = world.stream("welcome", people.values())
    chat = world.stream("chat", people.values())
    for name, text in INTROS.items():
        people[name].post(welcome, TOPIC, text)
    return people, welcome, chat


def test_start_up_reads_the_topic_and_builds_the_first_map_at_once(world, bot_process):
    """Intros posted before the bot ever ran are read at start, and the first map is
    built at once (the debounce, an hour here, is not waited for)."""
    people, welcome, _ = _world_with_intros(world)
    bot = bot_process(welcome, "debounce_minutes = 60\n").start()
    wait_for(lambda: bot.snapshot_id(), "the first map")
    assert sorted(d.name for d in bot.documents()) == sorted(p.full_name for p in people.values())
    asked = people["Ada"].dm_bot("map")
    [reply] = wait_for(lambda: people["Ada"].dm_replies(after=asked), "the map reply")
    assert "6 people" in reply["content"]


def test_every_command_by_dm_and_by_mention(world, bot_process):
    """Each command gets exactly one reply, in a DM and as a stream mention, and the reply
    renders cleanly in Zulip (no stray Markdown)."""
    people, welcome, chat = _world_with_intros(world)
    bot = bot_process(welcome).start()
    wait_for(lambda: bot.snapshot_id(), "the first map")
    ada = people["Ada"]
    first = ada.dm_bot(COMMANDS[0])
    for command in COMMANDS[1:]:
        ada.dm_bot(command)
    ada.dm_bot(f"near @**{people['Bea'].full_name}** 2")
    dms = wait_for(lambda: at_least(ada.dm_replies(after=first), len(COMMANDS) + 1), "a reply to every DM")
    assert len(dms) == len(COMMANDS) + 1
    texts = [m["content"] for m in dms]
    assert "near me" in texts[0]  # help
    assert any(f"@_**|{people[n].user_id}**" in texts[1] for n in ("Bea", "Cal"))  # mentioned by id
    assert re.search(r"\b1\b", texts[2]) and "show cluster" not in texts[2].lower()
    bea, topic = people["Bea"], [{"operator": "stream", "operand": chat}, {"operator": "topic", "operand": "q"}]
    asked = [bea.post(chat, "q", f"@**{world.server.bot_name}** {command}") for command in COMMANDS]
    answers = wait_for(lambda: at_least(bea.bot_replies(topic, after=asked[0]), len(COMMANDS)),
                       "a reply to every mention")
    assert len(answers) == len(COMMANDS) and answers[2]["content"] == texts[2]
    rendered = [m["content"] for m in ada.dm_replies(after=first, markdown=True)]
    for html in rendered:
        assert "**" not in re.sub(r"<code>.*?</code>", "", html), html
    # people are silent mentions that Zulip resolves to the users (near me, show group)
    resolved = [re.findall(r'class="user-mention silent" data-user-id="(\d+)"', html) for html in rendered[1:4]]
    assert {str(people[n].user_id) for n in ("Bea", "Cal")} & set(sum(resolved, [])), rendered[1:4]
    assert any("<time datetime=" in html for html in rendered[3:5])  # map, status: local times
    ada.dm_bot("opt out")
    wait_for(lambda: ada.full_name not in {d.name for d in bot.documents()}, "Ada's intro forgotten")
    ada.dm_bot("opt in")
    replies = wait_for(lambda: at_least(ada.dm_replies(after=first), len(COMMANDS) + 3), "the consent replies")
    assert len(replies) == len(COMMANDS) + 3


def test_refresh_reflects_new_edited_moved_and_deleted_intros(world, bot_process):
    """New, edited, moved (topic and stream) and deleted intros are each on the map after
    a rebuild, and the `refresh` reply says so."""
    people, welcome, chat = _world_with_intros(world)
    elsewhere = world.stream("elsewhere", people.values())
    bot = bot_process(welcome, "debounce_minutes = 60\n").start()
    first_map = wait_for(lambda: bot.snapshot_id(), "the first map")
    newcomer = world.person("Gus")
    patient_subscribe = world.server.admin.add_subscriptions
    patient_subscribe([{"name": welcome}], principals=[newcomer.user_id])
    newcomer.post(welcome, TOPIC, "Hi, I play the cello and compose string quartets.")
    ada, bea, cal, dee = (people[n] for n in ("Ada", "Bea", "Cal", "Dee"))
    ada_message = _first_message_of(ada, welcome)
    ada.client.update_message({"message_id": ada_message, "content": "Now I only do knitting and weaving."})
    world.server.admin.update_message({"message_id": _first_message_of(bea, welcome), "topic": "off topic",
                                       "propagate_mode": "change_one"})
    stream_id = world.server.admin.get_stream_id(elsewhere)["stream_id"]
    world.server.admin.update_message({"message_id": _first_message_of(cal, welcome), "stream_id": stream_id,
                                       "propagate_mode": "change_one"})
    world.server.admin.delete_message(_first_message_of(dee, welcome))
    expected = {ada.full_name, newcomer.full_name, people["Eve"].full_name, people["Fay"].full_name}
    wait_for(lambda: {d.name for d in bot.documents()} == expected, "the store to follow every change")
    asked = ada.dm_bot("refresh")
    wait_for(lambda: any("4 people" in m["content"] for m in ada.dm_replies(after=asked)), "the refresh result")
    assert bot.snapshot_id() > first_map
    [ada_doc] = [d for d in bot.documents() if d.name == ada.full_name]
    assert "knitting" in ada_doc.text and "compilers" not in ada_doc.text


def _first_message_of(person, stream: str) -> int:
    narrow = [{"operator": "stream", "operand": stream}, {"operator": "topic", "operand": TOPIC},
              {"operator": "sender", "operand": person.user_id}]
    found = person.client.get_messages({"anchor": "oldest", "num_before": 0, "num_after": 1,
                                        "narrow": narrow, "apply_markdown": False})
    return int(found["messages"][0]["id"])


def test_one_hello_in_a_stream_the_bot_is_added_to(world, bot_process):
    """Subscribed to a new stream while it runs, the bot says one short hello there, and
    reacts to a new intro with an emoji."""
    people, welcome, _ = _world_with_intros(world)
    bot = bot_process(welcome).start()
    bot.wait_log(r"Registered event queue")
    lounge = world.stream("lounge", people.values(), with_bot=False)
    world.server.admin.add_subscriptions([{"name": lounge}], principals=[world.server.bot_id])
    topic = [{"operator": "stream", "operand": lounge}]
    [hello] = wait_for(lambda: people["Ada"].bot_replies(topic), "the hello")
    assert hello["content"].startswith("Hello!")
    newcomer = world.person("Hal")
    world.server.admin.add_subscriptions([{"name": welcome}], principals=[newcomer.user_id])
    sent = newcomer.post(welcome, TOPIC, "Hi! I restore old radios and write about them.")
    reacted = lambda: [r for r in newcomer.client.get_messages({  # noqa: E731
        "anchor": sent, "num_before": 0, "num_after": 0, "narrow": []})["messages"][0]["reactions"]
        if r["user_id"] == world.server.bot_id]
    assert wait_for(reacted, "the reaction to the new intro")[0]["emoji_name"] == "wave"
