"""The weekly post goes out exactly once: retried after failures, and neither doubled nor
dropped when the process dies (os._exit, as SIGKILL: no cleanup runs) around the send."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from storage import Store

MONDAY_9 = datetime(2024, 1, 1, 9, 0, tzinfo=timezone.utc)
POST_TIME = MONDAY_9 + timedelta(hours=1, minutes=1)  # just after the 10:00 Monday post
ROOT = Path(__file__).resolve().parents[2]
INTROS = ["I love sailing, knots and boats.", "Baking sourdough bread is my weekend."]

DIE_AROUND_THE_SEND = textwrap.dedent("""
    import os, sys
    from datetime import datetime
    from bot.runner import Bot
    from bot.settings import load_settings
    from bot.zulip_io import ZulipIO

    when, config, at = sys.argv[1:4]
    send = ZulipIO.send_stream

    def send_and_die(self, *args, **kwargs):
        if when == "after":
            send(self, *args, **kwargs)
        os._exit(9)  # like SIGKILL: no finally, no shutdown

    ZulipIO.send_stream = send_and_die
    now = datetime.fromisoformat(at)
    bot = Bot(load_settings(config), clock=lambda: now, background_schedules=False).start()
    assert bot.ready.wait(60)
    bot.scheduler.run_due(now)
    os._exit(0)
""")


def posts(realm) -> list[str]:
    stream_id = realm.server.realm.stream("general").stream_id
    return [m.content for m in realm.server.messages_sent_by(realm.bot)
            if m.type == "stream" and m.stream_id == stream_id and m.topic == "maps"]


@pytest.fixture
def settings(realm, make_settings):
    """Two introductions, and a weekly post last made the Monday before."""
    for person, text in zip((realm.alice, realm.bob), INTROS):
        realm.server.send_stream_message(person, realm.welcome, realm.topic, text)
    settings = make_settings()
    with Store(settings.database) as store:
        store.set_state("schedule.weekly-post.last_run", (MONDAY_9 - timedelta(weeks=1)).isoformat())
    return settings


def test_a_failed_weekly_post_is_retried_until_it_is_posted(realm, settings, start_bot):
    """Zulip refuses the post for a while: it is tried again later, and posted once."""
    bot = start_bot(settings, clock=lambda: POST_TIME)
    # more than one attempt's retries: the send, then the look for it before a retry (8 tries)
    realm.server.fail_next(1 + 8, status=503, path_prefix="/messages")
    assert bot.scheduler.run_due(POST_TIME) == ["weekly-post"]
    assert posts(realm) == [] and bot.scheduler.retry_at is not None
    for _ in range(10):
        if posts(realm):
            break
        assert bot.scheduler.run_due(bot.scheduler.retry_at) == ["weekly-post"]
    assert len(posts(realm)) == 1 and "2 people" in posts(realm)[0]
    assert bot.scheduler.retry_at is None
    assert "weekly-post" not in bot.scheduler.run_due(POST_TIME + timedelta(days=1))


@pytest.mark.parametrize("when", ["before", "after"])
def test_a_kill_around_the_send_neither_doubles_nor_drops_the_post(realm, settings, start_bot, when):
    """The bot dies just before, or just after, sending the weekly post; started again,
    it posts it once in all."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    child = subprocess.run([sys.executable, "-c", DIE_AROUND_THE_SEND, when, str(settings.path),
                            POST_TIME.isoformat()], env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert child.returncode == 9, child.stderr
    assert len(posts(realm)) == (1 if when == "after" else 0)
    bot = start_bot(settings, clock=lambda: POST_TIME)
    bot.scheduler.run_due(POST_TIME)
    assert len(posts(realm)) == 1 and "2 people" in posts(realm)[0]
    assert "weekly-post" not in bot.scheduler.run_due(POST_TIME + timedelta(days=1))  # recorded as done


def test_a_post_whose_answer_was_lost_is_not_made_twice(realm, settings, start_bot):
    """Zulip stores the post but the answer is lost (a gateway timeout): the retry looks
    for the post's marker first, and the post is made once (issue 21.5)."""
    bot = start_bot(settings, clock=lambda: POST_TIME)
    bot.poster.preview = lambda source, snapshot: None  # the next request to /messages is the post
    realm.server.lose_answer_next(1, path_prefix="/messages", status=504)
    assert bot.scheduler.run_due(POST_TIME) == ["weekly-post"]
    assert len(posts(realm)) == 1 and bot.scheduler.retry_at is None


def test_a_long_post_keeps_its_marker_and_is_made_once(realm, settings, start_bot):
    """A week of changes longer than Zulip's 10,000 characters: the post is cut short by
    the bot, not by Zulip, so its marker survives, and a lost answer does not double it."""
    bot = start_bot(settings, clock=lambda: POST_TIME)
    bot.poster.describe_changes = lambda old, new: [f"New group {n}: " + ", ".join(["sailing"] * 40)
                                                    for n in range(60)]
    realm.server.lose_answer_next(1, path_prefix="/messages", status=504)
    bot.scheduler.run_due(POST_TIME)
    [post] = posts(realm)
    assert len(post) <= 10_000 and "[message truncated]" not in post
    assert post.rstrip().endswith("*") and "*post main-" in post
