"""Load: 200 commands within a minute from 50 people while a refresh runs. Every command is
answered, each person's answers come in the order they asked, and the bot stays within
Zulip's limit of 200 requests per minute."""

from __future__ import annotations

import re
import threading
import time

import pytest

from tests.reliability.conftest import read_store, replies_to

pytestmark = pytest.mark.slow

ZULIP_LIMIT, WINDOW = 200, 60.0  # requests per user per minute (Zulip's default API limit)
# The long-poll (GET /events) is served by Zulip's event server, outside that API limit.
NOT_LIMITED = {"GET /events", "DELETE /events"}
ASKED = [("show cluster 9001", r"no group 9001"), ("clusters", r"groups \(|No groups yet"),
         ("show cluster 9002", r"no group 9002"), ("map", r"latest map")]
REFRESHED = r"^Refreshed: "


class RequestClock:
    """Samples the server's request log so each request gets an (approximate) time."""

    def __init__(self, server):
        self.server = server
        self.samples: list[tuple[float, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> "RequestClock":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.samples.append((time.monotonic(), len(self.server.request_log)))
            time.sleep(0.05)
        self.samples.append((time.monotonic(), len(self.server.request_log)))

    def busiest_minute(self, user: str) -> int:
        """The most rate-limited requests by `user` in any WINDOW seconds (upper bound)."""
        times, seen = [], 0
        log = self.server.request_log
        for at, length in self.samples:
            times += [at for entry in log[seen:length] if entry.user == user and entry.endpoint not in NOT_LIMITED]
            seen = length
        return max((sum(1 for t in times if start <= t < start + WINDOW) for start in times), default=0)


def test_200_commands_from_50_people_during_a_refresh(realm, bot_thread, wait_for, figures):
    """All 200 (+1 refresh) commands answered, in order per person, within Zulip's rate limit."""
    server, people = realm.server, realm.people
    bot = bot_thread()
    for person in people[:30]:
        server.send_stream_message(person, realm.welcome, realm.topic, f"I'm {person.full_name}; I like rust and jazz.")
    wait_for(lambda: read_store(bot.settings.data_dir, lambda s: s.snapshot_info("main")), 60, "the first map")
    with RequestClock(server) as clock:
        server.send_dm(people[0], realm.bot, "refresh")  # a refresh runs while the rest arrive
        for question, _ in ASKED:
            for person in people:
                server.send_dm(person, realm.bot, question)
        figures["commands_sent"] += 1 + len(ASKED) * len(people)
        for person in people:
            expected = len(ASKED) + (person is people[0])
            wait_for(lambda: len(replies_to(server, realm.bot, person)) >= expected, 180, "every answer")
    for person in people:
        replies = replies_to(server, realm.bot, person)
        patterns = ([REFRESHED] if person is people[0] else []) + [p for _, p in ASKED]
        assert len(replies) == len(patterns)
        assert all(re.search(p, r) for p, r in zip(patterns, replies)), f"out of order: {replies}"
    figures["commands_answered"] += 1 + len(ASKED) * len(people)
    assert clock.busiest_minute(realm.bot.email) <= ZULIP_LIMIT
