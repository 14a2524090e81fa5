"""One person cannot use up the bot (issue 21.7): a per-person command rate with one
"slow down" note, and a cooldown on consent toggles. A real bot against the test server."""

from __future__ import annotations

from bot.dispatch import TOO_SOON
from bot.fairness import SLOW_DOWN, CommandRate


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def dms_to(realm, person) -> list[str]:
    return [m.content for m in realm.server.messages_sent_by(realm.bot)
            if m.type != "stream" and person.user_id in m.recipients]


def at_least(found: list, n: int) -> list | None:
    return found if len(found) >= n else None


def test_over_the_rate_one_note_then_silence_until_the_window_passes(realm, make_settings, start_bot, wait_for):
    """3 commands a minute: Alice's first 3 are answered, the 4th gets the note, the rest
    nothing, though an `opt out` among them is still applied; a minute on, she is answered."""
    bot = start_bot(make_settings("commands_per_minute = 3\n"))
    clock = Clock()
    bot.dispatcher.rate = CommandRate(3, clock=clock)
    server = realm.server
    ids = [server.send_dm(realm.alice, realm.bot, text)
           for text in ["help", "map", "status", "help", "groups", "near me", "opt out"]]
    wait_for(lambda: all(bot.store.inbox_state(i) == "answered" for i in ids), what="every command handled")
    replies = dms_to(realm, realm.alice)
    assert len(replies) == 4 and replies[3] == SLOW_DOWN
    assert bot.store.opted_out(str(realm.alice.user_id))  # over the limit, still applied
    clock.now += 60
    server.send_dm(realm.alice, realm.bot, "help")
    wait_for(lambda: len(dms_to(realm, realm.alice)) == 5, what="the answer after the window")
    assert dms_to(realm, realm.alice)[4] != SLOW_DOWN


def test_a_second_opt_in_within_the_cooldown_waits(realm, make_settings, start_bot, wait_for):
    """Bob opts out and at once back in (a mistake undone), then out and in again: that
    second opt-in is refused for the cooldown, so he stays out; opt-outs always work."""
    bot = start_bot(make_settings("consent_cooldown_minutes = 10\n"))
    for text in ("opt out", "opt in", "opt out", "opt in"):
        realm.server.send_dm(realm.bob, realm.bot, text)
    replies = wait_for(lambda: at_least(dms_to(realm, realm.bob), 4), what="the four replies")
    assert replies[1].startswith("Welcome back") and replies[3] == TOO_SOON.format(minutes=10)
    assert bot.store.opted_out(str(realm.bob.user_id))


def test_consent_toggles_do_not_postpone_the_rebuild(realm, make_settings, start_bot, wait_for):
    """A new introduction starts the rebuild countdown; opting out and in afterwards does
    not push it back (else toggling could hold the map off for ever)."""
    bot = start_bot(make_settings("consent_cooldown_minutes = 0\n"))
    realm.server.send_stream_message(realm.alice, realm.welcome, realm.topic, "I sail and tie knots.")
    countdown = wait_for(lambda: bot.scheduler.debounce_at, what="the rebuild countdown")
    for text in ("opt out", "opt in", "opt out"):
        realm.server.send_dm(realm.bob, realm.bot, text)
    wait_for(lambda: len(dms_to(realm, realm.bob)) == 3, what="the consent replies")
    assert bot.scheduler.debounce_at == countdown
