"""`/healthz` on the map server and the health lines of `status`, against the test server:
a dead event queue, a queue that stops answering, a failed build."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

from bot.health import QueueWatch
from pipeline.embed import HashingEmbedder

POLL = 5.0  # the bot's poll interval in these tests (the test server answers every 0.5 s)


def healthz(bot) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(f"{bot.server.base_url}/healthz", timeout=10) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as refused:
        return refused.code, json.load(refused)


class Clock:
    def __init__(self, now: float = 1000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_healthz_reports_a_live_bot_without_data_or_names(realm, start_bot, make_settings):
    """200, the queue alive, the backlog, the next post; nothing a person or stream is called."""
    realm.server.send_stream_message(realm.alice, realm.welcome, realm.topic, "I like sailing.")
    bot = start_bot(make_settings(), embedder=HashingEmbedder(), poll_interval=POLL)
    bot.refresh_stale()
    status, body = healthz(bot)
    assert status == 200 and body["status"] == "ok"
    assert body["event_queue"]["alive"] and body["event_queue"]["last_poll_age_s"] is not None
    assert body["last_build"]["result"] == "ok" and body["last_build"]["at"]
    assert body["inbox_backlog"] == 0 and body["next_post"]
    text = json.dumps(body)
    for secret in ("Alice", "sailing", realm.welcome, realm.bot.email, realm.bot.api_key):
        assert secret not in text


def test_healthz_reports_a_dead_event_queue(realm, start_bot, make_settings, wait_for):
    """Zulip gone: the next failed poll makes `/healthz` say 503, queue not alive; Zulip
    back: alive again."""
    bot = start_bot(make_settings(), embedder=HashingEmbedder(), poll_interval=POLL)
    assert healthz(bot)[1]["event_queue"]["alive"]
    realm.server.stop()
    try:
        status, body = wait_for(lambda: (lambda got: got if not got[1]["event_queue"]["alive"] else None)(
            healthz(bot)), timeout=POLL, what="/healthz to report the dead queue within one poll interval")
        assert status == 503 and body["status"] == "degraded"
        assert "event queue failed" in body["event_queue"]["error"]
    finally:
        realm.server.start()
    wait_for(lambda: healthz(bot)[1]["event_queue"]["alive"], timeout=60, what="the queue alive again")


def test_a_queue_that_stops_answering_is_dead_after_one_poll_interval(realm, start_bot, make_settings, wait_for):
    """The server holds the long-poll and never answers: alive up to one poll interval
    after the last answer, dead just after (the watch's clock is the test's)."""
    bot = start_bot(make_settings(), embedder=HashingEmbedder(), poll_interval=POLL)
    clock = bot.queue_watch.clock = Clock()
    polls = realm.server.count("GET /events")
    wait_for(lambda: realm.server.count("GET /events") >= polls + 2, what="a poll answered on the test clock")
    realm.server.poll_timeout = 3600  # polls from now on hang
    clock.now += POLL
    assert healthz(bot)[1]["event_queue"]["alive"]
    clock.now += 1
    status, body = healthz(bot)
    assert status == 503 and "no answer from the event queue" in body["event_queue"]["error"]
    realm.server.poll_timeout = 0.5


def test_queue_watch_counts_events_not_heartbeats():
    clock = Clock()
    watch = QueueWatch(POLL, clock)
    watch.polled([{"type": "message"}])
    clock.now += 3
    watch.polled([{"type": "heartbeat"}])
    state = watch.state(loop_running=True)
    assert state["last_event_age_s"] == 3 and state["last_poll_age_s"] == 0
    assert watch.state(loop_running=False)["error"] == "the event loop has stopped"


class BrokenEmbedder(HashingEmbedder):
    def encode(self, texts):
        raise RuntimeError("the model fell over")


def test_a_failed_build_shows(realm, start_bot, make_settings):
    """The last build failed: /healthz says so, with 503."""
    realm.server.send_stream_message(realm.alice, realm.welcome, realm.topic, "I like sailing.")
    bot = start_bot(make_settings(), embedder=BrokenEmbedder(), poll_interval=POLL)
    try:
        bot.refresh_stale()
    except RuntimeError:
        pass
    status, body = healthz(bot)
    assert status == 503 and body["last_build"]["result"] == "failed"


def test_status_in_chat_gives_the_same(realm, start_bot, make_settings, wait_for):
    start_bot(make_settings(), embedder=HashingEmbedder(), poll_interval=POLL)
    realm.server.send_dm(realm.alice, realm.bot, "status")
    [reply] = wait_for(lambda: [m.content for m in realm.server.messages_sent_by(realm.bot) if "Health" in m.content],
                       what="the status reply")
    assert "Event queue: alive" in reply and "Commands waiting, this one included: 1" in reply and "Last build:" in reply


def metrics_text(bot) -> str:
    with urllib.request.urlopen(f"{bot.server.base_url}/metrics", timeout=10) as response:
        return response.read().decode()


def sample(text: str, name: str) -> float:
    """The value of one sample line (`name` with its labels), 0 when absent."""
    found = [line.rsplit(" ", 1)[1] for line in text.splitlines() if line.startswith(name + " ")]
    return float(found[0]) if found else 0.0


def test_metrics_are_off_by_default(realm, start_bot, make_settings):
    bot = start_bot(make_settings(), embedder=HashingEmbedder())
    try:
        metrics_text(bot)
    except urllib.error.HTTPError as refused:
        assert refused.code == 404
    else:
        raise AssertionError("/metrics answered with metrics = false")


def test_metrics_count_commands_builds_retries_and_429s(realm, start_bot, make_settings, wait_for):
    realm.server.send_stream_message(realm.alice, realm.welcome, realm.topic, "I like sailing.")
    bot = start_bot(make_settings("metrics = true\n"), embedder=HashingEmbedder())
    before = metrics_text(bot)
    bot.refresh_stale()
    realm.server.rate_limit_next(1, retry_after=0.01, path_prefix="/messages")
    realm.server.send_dm(realm.alice, realm.bot, "help")
    wait_for(lambda: [m for m in realm.server.messages_sent_by(realm.bot) if m.type != "stream"], what="help")
    after = metrics_text(bot)
    for name in ('batchviz_commands_total{command="help"}', 'batchviz_build_seconds_count{result="ok"}',
                 "batchviz_zulip_rate_limited_total", 'batchviz_zulip_retries_total{reason="rate_limited"}'):
        assert sample(after, name) >= sample(before, name) + 1, name
    assert "Alice" not in after and "sailing" not in after
