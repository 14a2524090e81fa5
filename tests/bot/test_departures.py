"""People who leave are forgotten after the forget window, and admins can forget someone
at once (issue 21.9); permission changes count at once (issue 21.11). A real bot against
the test server, and the `batchviz` command on a real store."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone

from bot.cli import main
from bot.departures import DEPARTED_KEY
from bot.scheduler import FORGET_ID

INTRO = "I sail, tie knots and collect old maps."


def dms_to(realm, person) -> list[str]:
    return [m.content for m in realm.server.messages_sent_by(realm.bot)
            if m.type != "stream" and person.user_id in m.recipients]


def _introduce(realm, bot, wait_for) -> str:
    realm.server.send_stream_message(realm.alice, realm.welcome, realm.topic, INTRO)
    wait_for(lambda: bot.store.message_count("main") == 1, what="the introduction stored")
    return str(realm.alice.user_id)


def test_a_deactivated_person_is_forgotten_without_their_text_in_the_log(
        realm, make_settings, start_bot, wait_for, caplog):
    """forget_departed_days = 0: Alice's deactivation deletes her introduction at once
    and keeps her out; the log names her id, never her words."""
    caplog.set_level(logging.DEBUG)
    bot = start_bot(make_settings("forget_departed_days = 0\n"))
    alice = _introduce(realm, bot, wait_for)
    realm.server.deactivate_user(realm.alice)
    wait_for(lambda: bot.store.opted_out(alice) and not bot.store.states(DEPARTED_KEY), what="Alice forgotten")
    assert bot.store.message_count("main") == 0
    assert any(f"Forgot user {alice}" in r.getMessage() for r in caplog.records)
    assert not any("knots" in r.getMessage() for r in caplog.records)


def test_forgetting_waits_for_the_window_and_a_reactivation_cancels_it(
        realm, make_settings, start_bot, wait_for):
    """With a 30-day window, a deactivation only schedules the forgetting; a reactivation
    cancels it; deactivated again, she is forgotten once the window has passed (the real
    server's `update` / `is_active: false` event shape is read too)."""
    bot = start_bot(make_settings("forget_departed_days = 30\n"))
    alice = _introduce(realm, bot, wait_for)
    realm.server.deactivate_user(realm.alice)
    due = wait_for(lambda: bot.store.get_state(DEPARTED_KEY + alice), what="the forgetting scheduled")
    assert datetime.fromisoformat(due) > datetime.now(timezone.utc) + timedelta(days=29)
    realm.server.reactivate_user(realm.alice)
    wait_for(lambda: bot.store.get_state(DEPARTED_KEY + alice) is None, what="the forgetting cancelled")
    bot.handle_event({"type": "realm_user", "op": "update", "id": 99,
                      "person": {"user_id": realm.alice.user_id, "is_active": False}})
    bot.scheduler.run(FORGET_ID)
    assert bot.store.message_count("main") == 1  # not due yet
    bot.departures.clock = lambda: datetime.now(timezone.utc) + timedelta(days=31)
    bot.scheduler.run(FORGET_ID)
    assert bot.store.message_count("main") == 0 and bot.store.opted_out(alice)


def test_admin_forgets_someone_from_the_command_line(realm, make_settings, start_bot, wait_for, capsys, caplog):
    """`batchviz forget USER` (user id or email) deletes the person's data at once."""
    caplog.set_level(logging.DEBUG)
    settings = make_settings()
    bot = start_bot(settings)
    alice = _introduce(realm, bot, wait_for)
    assert main(["forget", "nobody@example.org", "--config", str(settings.path)]) == 2
    assert "nobody@example.org" in capsys.readouterr().err
    assert main(["forget", alice, "--config", str(settings.path)]) == 0
    assert "1 message" in capsys.readouterr().out
    assert bot.store.message_count("main") == 0 and bot.store.opted_out(alice)
    assert not any("knots" in r.getMessage() for r in caplog.records)


def test_taken_off_a_private_source_is_refused_at_once(realm, make_settings, start_bot, wait_for):
    """Alice reads the private source and is answered; taken off it, her next command is
    refused at once, not after the directory's 30 s cache time (issue 21.11)."""
    server = realm.server
    server.add_stream("private-welcome", invite_only=True, subscribers=[realm.bot, realm.alice])
    start_bot(make_settings(stream="private-welcome", post_stream="private-welcome"))
    server.send_dm(realm.alice, realm.bot, "status")
    wait_for(lambda: dms_to(realm, realm.alice), what="the answer")
    server.unsubscribe(realm.alice, "private-welcome")
    server.send_dm(realm.alice, realm.bot, "status")
    replies = wait_for(lambda: dms_to(realm, realm.alice)[1:] and dms_to(realm, realm.alice), what="the refusal")
    assert "Introductions stored" in replies[0] and replies[1].startswith("Sorry, I only answer")


def test_someone_deactivated_while_the_bot_was_down_is_forgotten_at_start(
        realm, make_settings, start_bot, wait_for):
    """No event tells a stopped bot; at its next start it finds Alice deactivated."""
    settings = make_settings("forget_departed_days = 0\n")
    first = start_bot(settings)
    alice = _introduce(realm, first, wait_for)
    first.stop()
    realm.server.deactivate_user(realm.alice)
    bot = start_bot(settings)
    assert bot.store.opted_out(alice) and bot.store.message_count("main") == 0
