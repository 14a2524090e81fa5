"""Every command answered exactly once (issue 21, items 4 and 6): a storage error while
recording a reply, an event given up, the first start's 24-hour window, replies stuck
in `sending`, a long run of 429s. A real bot against the test server, real SQLite."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from bot.runner import COMMANDS_SEEN_KEY, EVENT_ATTEMPTS
from bot.zulip_io import ZulipUnavailable


def dms_to(realm, person) -> list[str]:
    return [m.content for m in realm.server.messages_sent_by(realm.bot)
            if m.type != "stream" and person.user_id in m.recipients]


def _disk_full_once(store, method: str) -> list[int]:
    """The store's `method` fails once the way a full disk fails it; the ids it failed on."""
    real, failed = getattr(store, method), []

    def full(message_id, *args):
        if not failed:
            failed.append(message_id)
            raise sqlite3.OperationalError("database or disk is full")
        return real(message_id, *args)

    setattr(store, method, full)
    return failed


def test_a_storage_error_while_recording_a_reply_silences_nobody(realm, start_bot, wait_for, caplog):
    """Recording a reply as `sending` fails once (a full disk): that command is answered
    all the same, so are the sender's next two, in order, and the failure is logged."""
    bot = start_bot()
    failed = _disk_full_once(bot.store, "inbox_sending")
    for text in ("help", "status", "map"):
        realm.server.send_dm(realm.alice, realm.bot, text)
    replies = wait_for(lambda: len(dms_to(realm, realm.alice)) == 3 and dms_to(realm, realm.alice),
                       what="three replies")
    assert failed and "Could not record message" in caplog.text
    assert "Introductions stored" in replies[1] and "There is no map yet" in replies[2]


def test_a_command_skipped_after_failing_is_answered_at_the_next_start(
        realm, start_bot, make_settings, wait_for, monkeypatch):
    """Recording one DM keeps failing, so its event is given up; later commands move on,
    but the DM is not marked seen: the next start's catch-up reads it and answers it."""
    monkeypatch.setattr("bot.runner.ERROR_PAUSE", 0.01)
    settings = make_settings()
    bot = start_bot(settings)
    real_add, refused = bot.store.inbox_add, []

    def cannot_record(message):
        if message.get("content") == "status":
            refused.append(message["id"])
            raise sqlite3.OperationalError("database or disk is full")
        return real_add(message)

    bot.store.inbox_add = cannot_record
    skipped = realm.server.send_dm(realm.alice, realm.bot, "status")
    realm.server.send_dm(realm.bob, realm.bot, "help")
    wait_for(lambda: dms_to(realm, realm.bob), what="the command after the skipped one")
    assert len(refused) == EVENT_ATTEMPTS and dms_to(realm, realm.alice) == []
    assert int(bot.store.get_state(COMMANDS_SEEN_KEY)) < skipped
    bot.stop()
    start_bot(settings)
    [reply] = wait_for(lambda: dms_to(realm, realm.alice), what="the skipped command answered")
    assert "Introductions stored" in reply


def test_a_first_start_finds_the_24_hour_window_past_200_messages(realm, start_bot, wait_for):
    """A new data folder: Bob's command from 30 hours ago is not answered, Alice's recent
    one is, though 250 group DMs (no commands) came between them, more than one page."""
    server = realm.server
    old = server.send_dm(realm.bob, realm.bot, "help")
    server.realm.messages[old].timestamp -= 30 * 3600
    for n in range(250):
        server.send_dm(realm.alice, [realm.bot, realm.bob], f"chatter {n}")
    server.send_dm(realm.alice, realm.bot, "status")
    bot = start_bot()
    wait_for(lambda: dms_to(realm, realm.alice), what="Alice's recent command answered")
    bot.dispatcher.close()  # waits for anything it would (wrongly) answer too
    assert [m for m in server.messages_sent_by(realm.bot) if realm.bob.user_id in m.recipients
            and realm.alice.user_id not in m.recipients] == []


def test_sigterm_during_a_storm_of_429s_exits_within_10_seconds(realm, tmp_path, wait_for):
    """Every request gets a 429 with Retry-After 30 s while a command is being answered:
    SIGTERM still ends `batchviz run` within 10 s, cleanly (the issue's bound)."""
    rc = realm.server.zuliprc(tmp_path, realm.bot, extra=(
        f"\n[batchviz]\nsource_stream = {realm.welcome}\nembedding_model = hashing\nweb_mode = off\n"))
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    process = subprocess.Popen([sys.executable, "-m", "bot.cli", "run", "--config", str(rc)],
                               stderr=subprocess.PIPE, text=True, env=env)
    try:
        wait_for(lambda: realm.server.count("GET /events") >= 1, timeout=60, what="the bot to listen")
        realm.server.rate_limit_next(10**6, retry_after=30, path_prefix="/messages")
        realm.server.send_dm(realm.alice, realm.bot, "help")
        wait_for(lambda: realm.server.count("POST /messages") >= 1, timeout=30, what="the reply refused with a 429")
        realm.server.rate_limit_next(10**6, retry_after=30)  # and now every request
        process.send_signal(signal.SIGTERM)
        try:
            _, stderr = process.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            pytest.fail("the bot was still running 10 s after SIGTERM")
    finally:
        process.kill()
    assert process.returncode == 0 and "Stopping: database" in stderr


def test_a_long_run_of_429s_is_given_up_after_the_patience(realm, make_io, sleeps):
    """Rate limits are waited out, but not forever: after `rate_limit_patience` seconds
    of them one call gives up (its caller tries again later: the inbox, the scheduler)."""
    io = make_io()
    realm.server.rate_limit_next(100, retry_after=30)
    with pytest.raises(ZulipUnavailable, match="still rate limited"):
        io.call("get_profile")
    assert sum(sleeps.asked) <= io.policy.rate_limit_patience < sum(sleeps.asked) + 30
