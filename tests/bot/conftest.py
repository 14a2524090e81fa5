"""Fixtures for the long-running bot's tests: a realm on the test server, settings, a bot.

Append fixtures for other bot tests below; don't reorder.
"""

from __future__ import annotations

import time
from types import SimpleNamespace

import pytest

from bot.settings import load_settings
from bot.zulip_io import RetryPolicy, ZulipIO
from zulip_server import wait_until


WELCOME, INTRO_TOPIC = "welcome", "introductions"


def wait_for(condition, timeout: float = 10.0, what: str = "condition"):
    """Poll until `condition()` is truthy; its value. Fails the test after `timeout`."""
    value = wait_until(condition, timeout, interval=0.02)
    if value is None:
        pytest.fail(f"timed out waiting for {what}")
    return value


class RecordingSleep:
    """An injectable sleep that records what was asked and sleeps only briefly."""

    def __init__(self):
        self.asked: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.asked.append(seconds)
        time.sleep(min(seconds, 0.01))


@pytest.fixture(name="wait_for")
def wait_for_fixture():
    """The `wait_for(condition, timeout, what)` helper."""
    return wait_for


@pytest.fixture
def realm(zulip_server):
    """A bot, two people, a bot-like helper and a public welcome stream they all read."""
    server = zulip_server
    bot = server.add_user("Map Bot", email="map-bot@zulip.test", is_bot=True)
    alice = server.add_user("Alice Archer")
    bob = server.add_user("Bob Baker")
    other_bot = server.add_user("Notify Bot", is_bot=True)
    people = [bot, alice, bob, other_bot]
    server.add_stream(WELCOME, subscribers=people)
    server.add_stream("general", subscribers=people)
    return SimpleNamespace(server=server, welcome=WELCOME, topic=INTRO_TOPIC, bot=bot, alice=alice, bob=bob, other_bot=other_bot)


@pytest.fixture
def sleeps():
    return RecordingSleep()


@pytest.fixture
def make_settings(realm, tmp_path):
    """Settings for the bot from a real zuliprc (map server on a free port); `extra` adds keys."""

    def make(extra: str = "", stream: str = WELCOME, post_stream: str = "general"):
        text = (f"\n[batchviz]\nsource_stream = {stream}\nsource_topic = {INTRO_TOPIC}\n"
                f"embedding_model = hashing\npost_stream = {post_stream}\npost_topic = maps\n"
                "debounce_minutes = 5\nrefresh_cooldown_minutes = 10\nweb_port = 0\n" + extra)
        return load_settings(realm.server.zuliprc(tmp_path, realm.bot, extra=text))

    return make


@pytest.fixture
def make_io(realm, tmp_path, sleeps):
    """A connected ZulipIO for the bot user, with the recording sleep."""

    def make(max_attempts: int = 8) -> ZulipIO:
        rc = realm.server.zuliprc(tmp_path, realm.bot)
        return ZulipIO(str(rc), RetryPolicy(max_attempts=max_attempts, sleep=sleeps))

    return make


@pytest.fixture
def start_bot(make_settings, make_io):
    """Start a Bot (background schedules off) and stop it at teardown."""
    from bot.runner import Bot

    started = []

    def start(settings=None, **kwargs) -> Bot:
        kwargs.setdefault("background_schedules", False)
        bot = Bot(settings or make_settings(), client_factory=make_io, **kwargs).start()
        started.append(bot)
        assert bot.ready.wait(30), "the bot never registered"
        return bot

    yield start
    for bot in started:
        bot.stop()


@pytest.fixture
def quoting_db(tmp_path):
    """A database of the demo's people on a map whose groups quote a sentence of a member
    (keywords = "sentences"); returns (path, group, the sentence, its author's id)."""
    from bot.service import import_documents, rebuild
    from pipeline.demo import load_demo
    from pipeline.embed import HashingEmbedder
    from pipeline.params import PipelineParams
    from storage import Store

    from bot.settings import database_path

    path = database_path(tmp_path / "quoting")
    path.parent.mkdir()
    with Store(path) as store:
        import_documents(store, "demo", load_demo())
        rebuild(store, "demo", PipelineParams(keywords="sentences"), HashingEmbedder())
        result = store.latest_snapshot("demo")
    for number, cluster in sorted(result.clusters.items()):
        for index in cluster.members:
            if cluster.sentences and cluster.sentences[0].strip() in result.people[index].text:
                return SimpleNamespace(path=path, group=number, sentence=cluster.sentences[0],
                                       author=result.people[index].person_id)
    raise AssertionError("the demo map quotes nobody")
