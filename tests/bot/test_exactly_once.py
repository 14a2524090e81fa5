"""Every command answered exactly once (issue 21, items 4 and 6): a storage error while
recording a reply, an event given up, the first start's 24-hour window, replies stuck
in `sending`, a long run of 429s. A real bot against the test server, real SQLite."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from bot.runner import COMMANDS_SEEN_KEY, EVENT_ATTEMPTS
from bot.refresh import STARTED
from bot_process import BotProcess
from bot.zulip_io import ZulipUnavailable
from pipeline.embed import HashingEmbedder


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
    bot = BotProcess(rc, tmp_path / "bot.log").start()
    try:
        wait_for(lambda: realm.server.count("GET /events") >= 1, timeout=60, what="the bot to listen")
        realm.server.rate_limit_next(10**6, retry_after=30, path_prefix="/messages")
        realm.server.send_dm(realm.alice, realm.bot, "help")
        wait_for(lambda: realm.server.count("POST /messages") >= 1, timeout=30, what="the reply refused with a 429")
        realm.server.rate_limit_next(10**6, retry_after=30)  # and now every request
        status = bot.stop(timeout=10)  # None: still running 10 s after SIGTERM, then killed
    finally:
        bot.kill()
    assert status == 0 and "Stopping: database" in bot.log()


def test_a_long_run_of_429s_is_given_up_after_the_patience(realm, make_io, sleeps):
    """Rate limits are waited out, but not forever: after `rate_limit_patience` seconds
    of them one call gives up (its caller tries again later: the inbox, the scheduler)."""
    io = make_io()
    realm.server.rate_limit_next(100, retry_after=30)
    with pytest.raises(ZulipUnavailable, match="still rate limited"):
        io.call("get_profile")
    assert sum(sleeps.asked) <= io.policy.rate_limit_patience < sum(sleeps.asked) + 30


def test_a_reply_that_could_not_be_sent_is_sent_later_without_a_restart(realm, start_bot, wait_for, monkeypatch):
    """Zulip refuses the reply through all its retries: the command stays `sending`, and
    RETRY_SECONDS later it is looked for, then sent: once, with no restart."""
    monkeypatch.setattr("bot.redelivery.RETRY_SECONDS", 0.2)
    bot = start_bot()
    realm.server.fail_next(1 + 8, status=503, path_prefix="/messages")  # the send, then 8 looks for it
    asked = realm.server.send_dm(realm.alice, realm.bot, "help")
    wait_for(lambda: bot.store.inbox_state(asked) == "answered", timeout=30, what="the reply sent later")
    assert len(dms_to(realm, realm.alice)) == 1


def test_a_refresh_result_that_could_not_be_sent_is_sent_later(realm, start_bot, wait_for, monkeypatch):
    """`refresh`'s second message meets Zulip refusing it: it is kept in the inbox and
    sent later, once, after the first."""
    from held_build import HeldEmbedder

    monkeypatch.setattr("bot.redelivery.RETRY_SECONDS", 0.2)
    realm.server.send_stream_message(realm.alice, realm.welcome, realm.topic, "I sail and tie knots.")
    embedder = HeldEmbedder()
    bot = start_bot(embedder=embedder)
    wait_for(lambda: bot.store.message_count("main") == 1, what="the introduction stored")
    embedder.hold()
    try:
        asked = realm.server.send_dm(realm.alice, realm.bot, "refresh")
        wait_for(lambda: dms_to(realm, realm.alice), what="the first reply")
        realm.server.fail_next(1 + 8, status=503, path_prefix="/messages")
    finally:
        embedder.release()
    wait_for(lambda: bot.store.inbox_state(asked) == "answered", timeout=60, what="the second reply sent")
    first, second = dms_to(realm, realm.alice)
    assert first == STARTED and second.startswith("Refreshed: 1 people")


KILLED_DURING_THE_BUILD = textwrap.dedent("""
    import os, sys, time
    from bot.runner import Bot
    from bot.settings import load_settings

    def die(source):  # SIGKILL-like once the first reply is recorded as sent
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and any(not c.following for c in bot.store.inbox_pending()):
            time.sleep(0.05)
        os._exit(9)

    Bot._rebuild = lambda self, source: die(source)
    bot = Bot(load_settings(sys.argv[1]), background_schedules=False).start()
    time.sleep(60)
    os._exit(1)
""")


def test_a_refresh_cut_short_by_a_kill_gets_its_result_after_the_restart(
        realm, make_settings, start_bot, wait_for, tmp_path):
    """The bot dies while the build a `refresh` started runs, after the first reply went
    out: the next start builds and sends the result, without repeating the first reply."""
    realm.server.send_stream_message(realm.alice, realm.welcome, realm.topic, "I sail and tie knots.")
    settings = make_settings()
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    child = subprocess.Popen([sys.executable, "-c", KILLED_DURING_THE_BUILD, str(settings.path)], env=env,
                             stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: realm.server.count("GET /events") >= 1, timeout=60, what="the first bot to listen")
        realm.server.send_dm(realm.alice, realm.bot, "refresh")
        _, stderr = child.communicate(timeout=60)
    finally:
        child.kill()
    assert child.returncode == 9, stderr
    assert dms_to(realm, realm.alice) == [STARTED]
    start_bot(settings, embedder=HashingEmbedder())
    wait_for(lambda: len(dms_to(realm, realm.alice)) == 2, timeout=60, what="the result after the restart")
    assert dms_to(realm, realm.alice)[1].startswith("Refreshed: 1 people")
