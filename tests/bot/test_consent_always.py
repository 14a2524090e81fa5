"""Consent always works (issue 21, item 1): opting out is never refused, whatever the
person's access now; opting in needs read access. A real bot against the test server."""

from __future__ import annotations

from bot.dispatch import NOT_ALLOWED

PRIVATE = "private-welcome"


def dms_to(realm, person) -> list[str]:
    return [m.content for m in realm.server.messages_sent_by(realm.bot)
            if m.type != "stream" and person.user_id in m.recipients]


def _private_source(realm):
    """Alice introduced herself in a private source stream, then was taken off it."""
    realm.server.add_stream(PRIVATE, invite_only=True, subscribers=[realm.bot, realm.alice])
    realm.server.send_stream_message(realm.alice, PRIVATE, realm.topic, "I sail and tie knots.")


def test_a_person_taken_off_the_source_stream_can_opt_out(realm, make_settings, start_bot, wait_for):
    """Removed from the private source after introducing herself: `opt out` forgets her
    text all the same; `opt in` (which needs access) is refused."""
    _private_source(realm)
    bot = start_bot(make_settings(stream=PRIVATE, post_stream=PRIVATE))
    wait_for(lambda: bot.store.message_count("main") == 1, what="the introduction stored")
    realm.server.realm.stream(PRIVATE).subscribers.discard(realm.alice.user_id)
    bot.directory.forget()  # what Zulip says now, not the 30 s cache
    realm.server.send_dm(realm.alice, realm.bot, "opt out")
    [reply] = wait_for(lambda: dms_to(realm, realm.alice), what="the opt-out reply")
    assert reply.startswith("Done."), reply
    assert bot.store.opted_out(str(realm.alice.user_id))
    assert bot.store.message_count("main") == 0
    realm.server.send_dm(realm.alice, realm.bot, "opt in")
    wait_for(lambda: len(dms_to(realm, realm.alice)) == 2, what="the opt-in reply")
    assert dms_to(realm, realm.alice)[1].startswith(NOT_ALLOWED.split("{")[0])
    assert bot.store.opted_out(str(realm.alice.user_id))


def test_opt_out_works_for_a_source_with_protected_history(realm, make_settings, start_bot, wait_for):
    """Nobody can read a protected-history source in full, so every other command is
    refused; opting out is not."""
    _private_source(realm)
    realm.server.realm.stream(PRIVATE).history_public_to_subscribers = False
    bot = start_bot(make_settings(stream=PRIVATE, post_stream=PRIVATE))
    wait_for(lambda: bot.store.message_count("main") == 1, what="the introduction stored")
    realm.server.send_dm(realm.alice, realm.bot, "forget me")
    [reply] = wait_for(lambda: dms_to(realm, realm.alice), what="the opt-out reply")
    assert reply.startswith("Done."), reply
    assert bot.store.opted_out(str(realm.alice.user_id))
