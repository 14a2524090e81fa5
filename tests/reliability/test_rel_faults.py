"""Zulip misbehaving under a running bot: sustained 429s, bursts of 5xx, long-polls cut in
the middle, queue expiry during a burst of 500 messages, the server gone for a while.
The bot recovers by itself, loses nothing, doubles nothing, and backs off with a ceiling
that shows in its log. Waits are scaled (see SCALED_CEILING in conftest.py)."""

from __future__ import annotations

import logging
import re
import threading

import pytest

from tests.reliability.conftest import SCALED_CEILING, read_store, replies_to, stored_ids

pytestmark = pytest.mark.slow

RETRY_LOG = re.compile(r"retry \d+ in (\d+\.\d) s")
FAULTS = {
    "sustained 429s": lambda s: s.rate_limit_next(25, retry_after=30, path_prefix="/messages"),
    "5xx bursts": lambda s: (s.fail_next(6, status=502, path_prefix="/events"),
                             s.fail_next(4, status=503, path_prefix="/messages")),
    "long-polls cut": lambda s: s.drop_next(4, path_prefix="/events", after=0.2),
}
FAULT_COUNTS = {"sustained 429s": 25, "5xx bursts": 10, "long-polls cut": 4}


class Traffic:
    """Introductions and commands sent to a bot, and the checks that each arrived once."""

    def __init__(self, realm, bot, wait_for, figures):
        self.realm, self.bot, self.wait_for, self.figures = realm, bot, wait_for, figures
        self.sent: list[int] = []
        self.askers: list = []
        self.counted = (0, 0)  # (messages, commands) already added to the figures

    def introductions(self, people, rounds: int = 1) -> None:
        server = self.realm.server
        for r in range(rounds):
            for person in people:
                text = f"Hi, I'm {person.full_name}; message {r}: I like rust, chess and jazz."
                self.sent.append(server.send_stream_message(person, self.realm.welcome, self.realm.topic, text))
        self.figures["messages_sent"] += len(people) * rounds

    def commands(self, people, text: str = "status") -> None:
        for person in people:
            self.realm.server.send_dm(person, self.realm.bot, text)
        self.askers += people
        self.figures["commands_sent"] += len(people)

    def check_exactly_once(self, timeout: float = 60) -> None:
        data_dir = self.bot.settings.data_dir
        self.wait_for(lambda: len(read_store(data_dir, stored_ids)) >= len(self.sent), timeout, "all messages stored")
        assert sorted(read_store(data_dir, stored_ids)) == sorted(self.sent)
        for person in self.askers:
            self.wait_for(lambda: replies_to(self.realm.server, self.realm.bot, person), timeout, "a reply")
        self.figures["messages_stored"] += len(self.sent) - self.counted[0]
        self.figures["commands_answered"] += len(self.askers) - self.counted[1]
        self.counted = (len(self.sent), len(self.askers))

    def check_no_duplicates(self) -> None:
        """Stop the bot (its workers and event thread finish what they hold), then count
        every reply of the whole run: one per command, however late a second one came."""
        self.bot.stop()
        for person in {p.user_id: p for p in self.askers}.values():
            replies = replies_to(self.realm.server, self.realm.bot, person)
            assert len(replies) == self.askers.count(person), f"{person.full_name} got {replies}"


@pytest.fixture
def traffic(realm, bot_thread, wait_for, figures):
    """A running bot (scaled backoff) with its event queue registered, and its Traffic;
    at the end, no command of the whole run was answered twice."""
    bot = bot_thread()
    traffic = Traffic(realm, bot, wait_for, figures)
    yield traffic
    traffic.check_no_duplicates()


def retry_waits(caplog) -> list[float]:
    return [float(m.group(1)) for r in caplog.records if (m := RETRY_LOG.search(r.getMessage()))]


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_bot_recovers_from_fault_without_loss_or_duplicates(fault, traffic, realm, sleeps, caplog, figures):
    """Under the fault, every introduction is stored once and every command answered once."""
    caplog.set_level(logging.WARNING, logger="bot")
    FAULTS[fault](realm.server)
    figures["faults_injected"] += FAULT_COUNTS[fault]
    traffic.introductions(realm.people[:20])
    traffic.commands(realm.people[20:30])
    traffic.check_exactly_once()
    # a cut long-poll may come after the last answer: wait until every fault was met
    traffic.wait_for(lambda: not realm.server.faults.pending() and sleeps.asked, 30, "the bot to meet every fault")
    assert max(sleeps.asked) <= SCALED_CEILING  # backed off, within the ceiling
    assert retry_waits(caplog) and max(retry_waits(caplog)) <= SCALED_CEILING  # and said so


def test_queue_expiry_during_burst_of_500_loses_nothing(traffic, realm, caplog, figures):
    """The event queue expires halfway through 500 messages: backfill fills the gap, once each."""
    caplog.set_level(logging.WARNING, logger="bot")
    burst = threading.Thread(target=traffic.introductions, args=(realm.people, 10))
    burst.start()
    traffic.wait_for(lambda: len(traffic.sent) >= 250, 60, "half the burst")
    realm.server.expire_queues()
    figures["faults_injected"] += 1
    burst.join()
    traffic.commands(realm.people[:5])
    traffic.check_exactly_once(timeout=120)
    assert len(traffic.sent) == 500
    assert any("expired" in r.getMessage() for r in caplog.records)


def test_server_gone_for_a_while_then_back(traffic, realm, sleeps, wait_for, figures):
    """Zulip down for 20 backoff ceilings: capped waits, few attempts, then full recovery."""
    traffic.introductions(realm.people[:5])
    traffic.check_exactly_once()
    asked_before = len(sleeps.asked)
    realm.server.stop()
    figures["faults_injected"] += 1
    outage = 20 * SCALED_CEILING  # production: 20 minutes under a 60 s ceiling
    wait_for(lambda: sum(sleeps.asked[asked_before:]) >= outage, 60, "the bot to wait out the outage")
    traffic.introductions(realm.people[5:15])  # posted while the bot cannot reach Zulip
    realm.server.start()
    traffic.commands(realm.people[15:20])
    traffic.check_exactly_once()
    waits = sleeps.asked[asked_before:]
    assert waits and max(waits) <= SCALED_CEILING
    # Not hammering: a client without backoff makes thousands of attempts in this time.
    assert len(waits) <= 4 * outage / (0.5 * SCALED_CEILING)
