"""Exactly once: commands sent while the bot was away are answered after it comes back,
once each; a reply whose answer got lost is not sent again."""

from __future__ import annotations

import json

from storage import Store


def dm_replies(realm, person) -> list[str]:
    return [m.content for m in realm.server.messages_sent_by(realm.bot)
            if m.type == "private" and person.user_id in m.recipients]


def stream_replies(realm, stream: str, topic: str) -> list[str]:
    stream_id = realm.server.realm.stream(stream).stream_id
    return [m.content for m in realm.server.messages_sent_by(realm.bot)
            if m.type == "stream" and m.stream_id == stream_id and m.topic == topic]


def test_dms_sent_while_the_bot_was_down_are_answered_once(realm, start_bot, make_settings, wait_for):
    """Stopped, then DMed twice: after the restart both are answered, once each, also after
    yet another restart."""
    settings = make_settings()
    start_bot(settings).stop()
    realm.server.send_dm(realm.alice, realm.bot, "help")
    realm.server.send_dm(realm.alice, realm.bot, "status")
    start_bot(settings)
    wait_for(lambda: len(dm_replies(realm, realm.alice)) == 2, what="both replies")
    again = start_bot(settings)
    again.dispatcher.close()  # waits for anything it might (wrongly) answer again
    assert len(dm_replies(realm, realm.alice)) == 2


def test_commands_before_the_first_start_are_answered(realm, start_bot, wait_for):
    """A DM sent before the bot ever ran (say, while its set-up was still failing) is
    answered at its first start."""
    realm.server.send_dm(realm.alice, realm.bot, "help")
    start_bot()
    wait_for(lambda: dm_replies(realm, realm.alice), what="the reply")


def test_a_first_start_does_not_answer_what_the_bot_answered_before(realm, start_bot, wait_for):
    """A new data folder does not answer again the commands before the bot's own latest
    message: whatever ran the bot then answered them."""
    realm.server.send_dm(realm.alice, realm.bot, "help")
    realm.server.send_dm(realm.bot, realm.alice, "an answer from an earlier installation")
    realm.server.send_dm(realm.bob, realm.bot, "help")
    bot = start_bot()
    wait_for(lambda: dm_replies(realm, realm.bob), what="Bob's reply")
    bot.dispatcher.close()
    assert dm_replies(realm, realm.alice) == ["an answer from an earlier installation"]


def test_a_mention_during_a_queue_gap_is_answered(realm, start_bot, wait_for):
    """A stream mention sent while the event queue was gone is caught up (is:mentioned)."""
    start_bot()
    realm.server.expire_queues(then=lambda: realm.server.send_stream_message(
        realm.alice, "general", "chat", "@**Map Bot** help"))
    wait_for(lambda: stream_replies(realm, "general", "chat"), what="the reply in the stream")
    assert len(stream_replies(realm, "general", "chat")) == 1


def test_a_reply_whose_answer_was_lost_is_not_sent_twice(realm, start_bot, wait_for):
    """Zulip stores the reply but the answer is lost (a 502 from a proxy): the bot looks
    before it sends again, and the person gets one reply."""
    bot = start_bot()
    realm.server.lose_answer_next(1, path_prefix="/messages", status=502)
    asked = realm.server.send_dm(realm.alice, realm.bot, "help")
    wait_for(lambda: bot.store.inbox_state(asked) == "answered", what="the command marked answered")
    assert len(dm_replies(realm, realm.alice)) == 1


def test_a_reply_being_sent_at_a_crash_is_looked_for_first(realm, start_bot, make_settings, wait_for):
    """Commands left `sending` by a crash: the one whose reply is already in Zulip is not
    sent again; the other one is sent."""
    settings = make_settings()
    start_bot(settings).stop()
    sent_id = realm.server.send_dm(realm.alice, realm.bot, "help")
    lost_id = realm.server.send_dm(realm.bob, realm.bot, "help")
    realm.server.send_dm(realm.bot, realm.alice, "the reply that got out")
    with Store(settings.database) as store:
        for message_id, person, reply in ((sent_id, realm.alice, "the reply that got out"),
                                          (lost_id, realm.bob, "the reply that did not")):
            store.inbox_add(_as_received(realm, message_id))
            store.inbox_sending(message_id, reply)
        store.set_state("commands.seen_through", str(max(realm.server.realm.messages)))
    start_bot(settings)
    wait_for(lambda: dm_replies(realm, realm.bob), what="Bob's reply")
    assert dm_replies(realm, realm.bob) == ["the reply that did not"]
    assert dm_replies(realm, realm.alice) == ["the reply that got out"]


def _as_received(realm, message_id: int) -> dict:
    """The message as the bot's client would have received it."""
    message = realm.server.realm.message_dict(realm.server.realm.messages[message_id], apply_markdown=False)
    return json.loads(json.dumps(message))
