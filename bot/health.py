"""The bot's health, as the map server's `/healthz` JSON and as the `status` lines in chat.

No data and no names: ages in seconds, times, counts and a result word. The event queue
is alive while the event loop runs, its last poll succeeded, and that poll answered less
than one poll interval ago (Zulip answers a long-poll at least once a minute, with a
heartbeat when nothing happened), so a queue that died, or a server that stopped
answering, shows within one poll interval. `INSTANCE` names this process, so that
`batchviz check` can tell that `public_url` reaches this bot's map server, not another.
"""

from __future__ import annotations

import secrets
import threading
import time
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Callable

from bot import metrics

SERVICE = "batchviz"
INSTANCE = secrets.token_urlsafe(9)  # random for each process: not data
POLL_INTERVAL = 90.0  # seconds: Zulip answers a quiet long-poll with a heartbeat every 45-55 s; a margin


class QueueWatch:
    """What the event loop last did with its queue; updated by the loop, read by `/healthz`."""

    def __init__(self, poll_interval: float = POLL_INTERVAL, clock: Callable[[], float] = time.monotonic):
        self.poll_interval = poll_interval
        self.clock = clock
        self._lock = threading.Lock()
        self._last_poll: float | None = None
        self._last_event: float | None = None
        self._error: str | None = "not registered yet"

    def polled(self, events: list[dict]) -> None:
        """A poll answered; heartbeats are not events."""
        with self._lock:
            now = self._last_poll = self.clock()
            self._error = None
            if any(event.get("type") != "heartbeat" for event in events):
                self._last_event = now

    def failed(self, error: str) -> None:
        with self._lock:
            self._error = error

    def state(self, loop_running: bool) -> dict:
        with self._lock:
            now = self.clock()
            poll_age = _age(now, self._last_poll)
            error = self._error
        if not loop_running:
            error = "the event loop has stopped"
        elif error is None and poll_age is not None and poll_age > self.poll_interval:
            error = f"no answer from the event queue for {poll_age:.0f} s"
        return {"alive": error is None, "error": error, "last_poll_age_s": poll_age,
                "last_event_age_s": _age(now, self._last_event)}


class BuildWatch:
    """The time and result of the last map build of this process."""

    def __init__(self) -> None:
        self.finished_at: datetime | None = None
        self.result: str | None = None

    @contextmanager
    def build(self):
        started = time.perf_counter()
        try:
            yield
        except BaseException:
            self._done("failed", started)
            raise
        self._done("ok", started)

    def _done(self, result: str, started: float) -> None:
        self.finished_at, self.result = _now(), result
        metrics.build_done(time.perf_counter() - started, result)


def report(queue: dict, build: BuildWatch, stored_build: datetime | None, backlog: int,
           next_post: datetime | None) -> dict:
    """The `/healthz` body. A build of an earlier process counts, as stored, when this
    one has not built yet."""
    built_at, result = (build.finished_at, build.result) if build.result else (stored_build, "ok" if stored_build else None)
    healthy = queue["alive"] and result != "failed"
    return {
        "service": SERVICE, "instance": INSTANCE, "status": "ok" if healthy else "degraded",
        "event_queue": queue,
        "last_build": {"at": _iso(built_at), "result": result},
        "inbox_backlog": backlog,
        "next_post": _iso(next_post),
    }


def describe(health: dict) -> list[str]:
    """The same, as lines for the `status` reply."""
    queue, build = health["event_queue"], health["last_build"]
    last_event = queue["last_event_age_s"]
    event_line = f"last event {last_event:.0f} s ago" if last_event is not None else "no event yet"
    queue_line = "alive" if queue["alive"] else f"NOT alive ({queue['error']})"
    build_line = f"{build['result']} at <time:{build['at']}>" if build["result"] else "none yet"
    return [f"Health: {health['status']}. Event queue: {queue_line}; {event_line}.",
            f"Last build: {build_line}. Commands waiting, this one included: {health['inbox_backlog']}."]


def _age(now: float, then: float | None) -> float | None:
    return None if then is None else round(max(0.0, now - then), 1)


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(timezone.utc).isoformat(timespec="seconds")


def of_bot(bot) -> dict:
    """The report of a running `bot.runner.Bot` (parts not started yet count as empty)."""
    thread = getattr(bot, "_thread", None)
    running = thread is not None and thread.is_alive() and not bot._stopping.is_set()
    store, scheduler = getattr(bot, "store", None), getattr(bot, "scheduler", None)
    stored = [store.snapshot_info(source.name) for source in bot.settings.sources] if store else []
    latest = max((info[1] for info in stored if info), default=None)
    return report(bot.queue_watch.state(running), bot.build_watch, latest,
                  store.inbox_backlog() if store else 0,
                  scheduler.next_run("weekly-post") if scheduler else None)
