"""Fixtures for the reliability tests: a realm, the bot as a real process or as a thread,
and the figures (cases fuzzed, faults injected, messages and commands) printed at the end.

Time is scaled where the real thing takes minutes: the bot's retry ceiling is 60 s in
production and `SCALED_CEILING` here, so "the server gone for minutes" is a few seconds
of outage that still spans many ceiling-length waits.
"""

from __future__ import annotations

import collections
import dataclasses
import re
import socket
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from bot_process import BotProcess
from bot.settings import DB_FILENAME, MAIN_SOURCE, load_settings
from bot.zulip_io import RetryPolicy, ZulipIO
from zulip_server import wait_until
from storage import Store

ROOT = Path(__file__).resolve().parents[2]
WELCOME, TOPIC = "welcome", "introductions"
SCALED_BASE, SCALED_CEILING = 0.05, 0.4  # seconds; production: 1 s and 60 s

FIGURES: collections.Counter = collections.Counter()
FIGURE_LABELS = {
    "cases_fuzzed": "hostile cases run (hypothesis examples and fixed cases)",
    "faults_injected": "Zulip faults injected (429, 5xx, drops, expiries, outages)",
    "kills": "SIGKILLs of the bot process",
    "messages_sent": "introductions sent to the test server",
    "messages_stored": "introductions found stored (exactly once each)",
    "commands_sent": "commands sent to the bot",
    "commands_answered": "commands answered (exactly one reply each)",
}


TIMINGS: dict[str, str] = {}  # measured, not asserted: label -> figures


def pytest_terminal_summary(terminalreporter):
    """Print the reliability figures of this run, when any reliability test ran."""
    if not FIGURES and not TIMINGS:
        return
    terminalreporter.section("batchviz reliability figures")
    for key, label in FIGURE_LABELS.items():
        terminalreporter.write_line(f"{FIGURES[key]:>8}  {label}")
    for label, measured in TIMINGS.items():
        terminalreporter.write_line(f"{label}: {measured}")


# ---- hostile input and what a clear reply is ------------------------------------------

HUGE = "10" + "0" * 19  # 10^20
FRAGMENTS = [
    "show cluster", "cluster #", "group", "near", "near me", "who's near me?", "near @**", "k=",
    "clusters", "map", "status", "help", "forget me", "opt in", "refresh",
    "-1", "0", "3", HUGE, "3abc", "+7", "٣", "1e3",
    "`", "``", "@**all**", "@**everyone**", "@_**Nobody|99**", "@**Nobody Here**", "**", "|", "\\",
    "<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "[x](javascript:alert(1))",
    "@**x`**", "@**`", "`@**all**`", "**bold**", "__", "~~", "$$", "[", "]", "](", "[Re-auth](https://ev.il)",
    "(https://ev.il)", "ev.il", "#**welcome**",
    "\u202eevil", "\u200b", "\u200d", "\ufeff", "🎉", "👩‍👩‍👧", "Ωμέγα", "שלום", "مرحبا", "你好", "ᚠᛇᚻ", "\n", "\t",
]
MENTION = re.compile(r"@_?\*\*")  # a live Zulip mention (md() writes the asterisks as &#42;)
# a code span is inert: a run of n backticks up to the next run of exactly n (CommonMark)
CODE_SPAN = re.compile(r"(?<!`)(`+)(?!`).*?(?<!`)\1(?!`)")
OUR_LINKS = "https://maps.example/"  # the only link the tests' answerers hand out
# a live link: [text](url) with brackets not written as references, or a bare URL Zulip would linkify
LINK = re.compile(r"\]\((?!" + re.escape(OUR_LINKS) + r")|https?://(?!maps\.example/)[^\s\\]*[^\W_]\.[^\W_]")


def assert_clear_reply(reply: object) -> None:
    """A reply people can read: text, non-empty, within Zulip's size, no trace, no mention."""
    assert isinstance(reply, str) and reply.strip()
    assert len(reply) <= 10_000
    assert "Traceback" not in reply and 'File "' not in reply
    live = CODE_SPAN.sub("", reply)
    assert not MENTION.search(live), f"the reply would ping someone: {reply!r}"
    assert not LINK.search(live), f"the reply holds a link someone typed: {reply!r}"


@pytest.fixture(scope="session")
def figures():
    """The run's counters (see FIGURE_LABELS); tests add what they did and checked."""
    return FIGURES


def wait_for(condition, timeout: float = 20.0, what: str = "condition"):
    """Poll until `condition()` is truthy and return its value; fail after `timeout`."""
    value = wait_until(condition, timeout)
    if value is None:
        pytest.fail(f"timed out after {timeout} s waiting for {what}")
    return value


@pytest.fixture(name="wait_for")
def wait_for_fixture():
    """The `wait_for(condition, timeout, what)` helper."""
    return wait_for


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def make_realm(server, people: int = 50) -> SimpleNamespace:
    """The bot, `people` people and a public welcome stream, plus a `general` stream for
    posts (also the benchmarks' realm: plain function, the fixture below wraps it)."""
    bot = server.add_user("Map Bot", email="map-bot@zulip.test", is_bot=True)
    members = [server.add_user(f"Person {i:02d}") for i in range(people)]
    server.add_stream(WELCOME, subscribers=[bot, *members])
    server.add_stream("general", subscribers=[bot, *members])
    return SimpleNamespace(server=server, bot=bot, people=members, welcome=WELCOME, topic=TOPIC)


@pytest.fixture
def realm(zulip_server):
    """The bot, 50 people and a public welcome stream, plus a `general` stream for posts."""
    return make_realm(zulip_server)


def read_store(data_dir: Path, read):
    """Open the bot's database beside the running bot (WAL: readers don't block it)."""
    with Store(data_dir / DB_FILENAME) as store:
        return read(store)


def stored_ids(store, source: str = MAIN_SOURCE) -> list[int]:
    """Every stored message id of the source, one entry per stored row."""
    return [i for doc in store.documents(source) for i in doc.extra["message_ids"]]


def replies_to(server, bot, person) -> list[str]:
    """The bot's direct messages to one person, oldest first."""
    return [m.content for m in server.messages_sent_by(bot)
            if m.type == "private" and person.user_id in m.recipients]


def write_bot_config(realm, folder: Path, extra: str = "", model: str = "hashing") -> Path:
    """Write the bot's zuliprc in `folder` (immediate debounce, data in `folder`/data,
    `extra` lines appended; model "": the bundled one); returns its path."""
    text = (f"\n[batchviz]\nsource_stream = {WELCOME}\nsource_topic = {TOPIC}\n"
            f"embedding_model = {model}\npost_stream = general\npost_topic = maps\n"
            f"debounce_minutes = 0\nrefresh_cooldown_minutes = 0\n"
            f"data_dir = {folder / 'data'}\nweb_port = {free_port()}\n" + extra)
    return realm.server.zuliprc(folder, realm.bot, extra=text)


@pytest.fixture
def bot_config(realm, tmp_path):
    """Write the bot's zuliprc (see write_bot_config); returns its path."""
    return lambda extra="": write_bot_config(realm, tmp_path, extra)


# ---- the bot as a real process -------------------------------------------------------


class CountedBotProcess(BotProcess):
    """The bot process, its SIGKILLs counted in the run's figures."""

    def kill(self) -> None:
        super().kill()
        FIGURES["kills"] += 1


@pytest.fixture
def bot_process(bot_config, tmp_path):
    """A factory of real bot processes; every one still alive is killed at teardown."""
    started: list[CountedBotProcess] = []

    def make(extra: str = "") -> CountedBotProcess:
        process = CountedBotProcess(bot_config(extra), tmp_path / "bot.log")
        started.append(process)
        return process

    yield make
    for process in started:
        if process.proc is not None and process.proc.poll() is None:
            process.stop()


# ---- the bot in a thread, with a scaled retry clock ----------------------------------


class RecordingSleep:
    """The retry policy's sleep: records each wait, and sleeps it (the waits are scaled)."""

    def __init__(self):
        self.asked: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.asked.append(seconds)
        time.sleep(seconds)


@pytest.fixture
def sleeps():
    """The recording sleep shared by every ZulipIO a test's bot makes."""
    return RecordingSleep()


def has_queue(server, user) -> bool:
    """Whether `user` has an event queue on the server (so no event is missed from now on)."""
    return any(q.user_id == user.user_id for q in list(server.queues.queues.values()))


@pytest.fixture
def bot_thread(realm, bot_config, sleeps):
    """Start a `Bot` in this process (scaled backoff: SCALED_BASE … SCALED_CEILING s) and
    wait until its event queue is registered."""
    from bot.runner import Bot

    started = []

    def start(extra: str = "", embedder=None, **overrides):
        settings = dataclasses.replace(load_settings(bot_config(extra)), **overrides)
        policy = RetryPolicy(base=SCALED_BASE, ceiling=SCALED_CEILING, sleep=sleeps)
        bot = Bot(settings, client_factory=lambda: ZulipIO(str(settings.path), policy),
                  embedder=embedder, background_schedules=True)
        started.append(bot.start())
        wait_for(lambda: has_queue(realm.server, realm.bot), 30, "the bot's event queue")
        return bot

    yield start
    for bot in started:
        bot.stop()
