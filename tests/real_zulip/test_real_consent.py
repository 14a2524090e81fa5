"""Consent on the real server (issue 21, item 1): a person taken off the private source
stream after introducing themselves can still opt out; opting in needs access."""

from __future__ import annotations

from real_zulip.harness import TOPIC, patient, wait_for


def test_a_person_removed_from_the_source_stream_can_opt_out(world, bot_process):
    """Ana introduces herself in a private source, then an admin takes her off it: the bot
    stores her introduction, and her `opt out` deletes it (no refusal); her `opt in` is
    refused, since she can no longer read the source."""
    ana, ben = world.person("Ana"), world.person("Ben")
    welcome = world.stream("welcome", [ana, ben], private=True)
    ana.post(welcome, TOPIC, f"I am {ana.full_name}; I restore old sailing boats.")
    ben.post(welcome, TOPIC, f"I am {ben.full_name}; I bake sourdough bread.")
    patient(world.server.admin.remove_subscriptions, [welcome], principals=[ana.user_id])
    bot = bot_process(welcome).start()
    wait_for(lambda: len(bot.documents()) == 2, "both introductions stored")
    asked = ana.dm_bot("opt out")
    [reply] = wait_for(lambda: ana.dm_replies(after=asked), "the reply to the opt-out")
    assert reply["content"].startswith("Done."), reply["content"]
    assert bot.read(lambda store: store.opted_out(str(ana.user_id)))
    assert [doc.person_id for doc in bot.documents()] == [str(ben.user_id)]
    asked = ana.dm_bot("opt in")
    [reply] = wait_for(lambda: ana.dm_replies(after=asked), "the reply to the opt-in")
    assert not reply["content"].startswith("Welcome back"), reply["content"]
    assert bot.read(lambda store: store.opted_out(str(ana.user_id)))
