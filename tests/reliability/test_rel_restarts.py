"""The real bot process, SIGKILLed at random points of ingestion and of a refresh: after each
restart every message is stored exactly once, commands read the last complete map, and a
scheduled post that fell due while the bot was down is sent exactly once."""

from __future__ import annotations

import random
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from bot.scheduler import LAST_RUN_KEY
from bot.settings import DB_FILENAME
from storage import Store
from tests.reliability.conftest import read_store, replies_to, stored_ids

pytestmark = pytest.mark.slow

SOURCE = "main"
REGISTERED = r"Registered event queue"
REBUILDING = r"Rebuilding the map of main"
VOCABULARY = [
    "kernel compiler linker allocator registers paging",
    "guitar synthesizer drums jazz melody harmony",
    "protein genomics microscopy enzymes botany fungi",
]


def introduction(i: int) -> str:
    words = VOCABULARY[i % len(VOCABULARY)].split()
    return f"Hi, I'm person {i}. I love {words[i % 6]}, {words[(i + 1) % 6]} and {words[(i + 2) % 6]}."


def map_people(store) -> int:
    info = store.snapshot_info(SOURCE)
    return info[2] if info else 0


class Restarts:
    """One bot process, restarted after each kill, and what was sent to it."""

    def __init__(self, realm, process, data_dir: Path, wait_for, figures):
        self.realm, self.process, self.data_dir = realm, process, data_dir
        self.wait_for, self.figures = wait_for, figures
        self.sent: list[int] = []

    def start(self) -> None:
        self.process.start()
        self.wait_for(lambda: self.process.count(REGISTERED), 90, "the bot to register its event queue")

    def post(self, people) -> None:
        for person in people:
            i = self.realm.people.index(person)
            self.sent.append(self.realm.server.send_stream_message(
                person, self.realm.welcome, self.realm.topic, introduction(i)))
        self.figures["messages_sent"] += len(people)

    def kill_after(self, pattern: str | None, delay: float) -> None:
        if pattern:
            self.wait_for(lambda: self.process.count(pattern), 60, pattern)
        time.sleep(delay)
        self.process.kill()

    def settled(self) -> list[int]:
        """Wait until every sent message is stored and mapped; the stored ids."""
        everyone = len({self.realm.server.realm.messages[i].sender_id for i in self.sent})
        self.wait_for(lambda: read_store(self.data_dir, lambda s: len(set(stored_ids(s))) == len(self.sent)),
                      60, "every sent message to be stored")
        self.wait_for(lambda: read_store(self.data_dir, map_people) == everyone, 90,
                      f"a map of all {everyone} people (an interrupted refresh must be redone)")
        return read_store(self.data_dir, stored_ids)


@pytest.fixture
def restarts(realm, bot_process, tmp_path, wait_for, figures):
    return Restarts(realm, bot_process(), tmp_path / "data", wait_for, figures)


def test_kills_during_ingestion_and_refresh_lose_and_double_nothing(restarts, realm, figures):
    """Random SIGKILLs mid-ingestion and mid-refresh: each message stored once, map complete."""
    rng = random.Random(20261129)
    people = realm.people[:30]
    restarts.start()
    for round_ in range(3):
        batch = people[round_ * 10: round_ * 10 + 10]
        restarts.post(batch[:6])
        restarts.kill_after(None, rng.uniform(0.0, 0.6))  # somewhere in ingesting the burst
        restarts.post(batch[6:8])  # sent while the bot is down
        restarts.start()
        restarts.post(batch[8:])
        restarts.kill_after(REBUILDING, rng.uniform(0.0, 1.0))  # somewhere in the refresh
        with Store(restarts.data_dir / DB_FILENAME) as store:  # the map commands would read
            info, latest = store.snapshot_info(SOURCE), store.latest_snapshot(SOURCE)
            assert (info, latest) == (None, None) or len(latest) == info[2] == len(latest.embeddings)
        restarts.start()
    ids = restarts.settled()
    assert sorted(ids) == sorted(restarts.sent)  # every message, exactly once
    figures["messages_stored"] += len(ids)
    asker = people[0]
    realm.server.send_dm(asker, realm.bot, "map")
    figures["commands_sent"] += 1
    reply = restarts.wait_for(lambda: replies_to(realm.server, realm.bot, asker), 30, "the answer to `map`")
    assert len(reply) == 1 and f"from {len(people)} people" in reply[0]
    figures["commands_answered"] += 1


def test_weekly_post_due_during_downtime_is_sent_once(restarts, realm, figures):
    """A weekly post that fell due while the bot was dead is sent on restart, and only once."""
    restarts.start()
    restarts.post(realm.people[:6])
    figures["messages_stored"] += len(restarts.settled())
    restarts.process.kill()
    a_week_ago = datetime.now(timezone.utc) - timedelta(days=8)  # the bot "was down" across a post time
    last_run = LAST_RUN_KEY.format(name="weekly-post")
    read_store(restarts.data_dir, lambda s: s.set_state(last_run, a_week_ago.isoformat()))
    restarts.start()
    posts = lambda: [m for m in realm.server.messages_sent_by(realm.bot) if m.type == "stream"]  # noqa: E731
    restarts.wait_for(lambda: restarts.process.count("Posted the weekly map"), 60, "the caught-up weekly post")
    restarts.process.kill()  # right after posting
    restarts.start()
    realm.server.send_dm(realm.people[0], realm.bot, "status")
    restarts.wait_for(lambda: replies_to(realm.server, realm.bot, realm.people[0]), 30, "the answer to `status`")
    assert len(posts()) == 1 and "6 people" in posts()[0].content
