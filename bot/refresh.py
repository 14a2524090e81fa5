"""Map builds on their own workers: coalescing, staleness, the `refresh` command's replies
and the per-person cooldown.

Each source has one build worker, off the command pool, so a build never holds up other
commands. Whoever asks for a source's rebuild while one is under way joins it and gets
its result, instead of starting another; different sources take turns, so the process
never runs two pipelines at once. Commands meanwhile keep answering from the last
complete snapshot, which the store guarantees.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Callable

from bot.answers import FollowUp, friendly_error

log = logging.getLogger(__name__)

DIRTY_KEY = "dirty.{source}"
BUILDING_KEY = "building.{source}"  # set for the length of a build: still set after a crash
STARTED = "Rebuilding the map… I'll post the result here when it's done."
JOINED = "The map is being rebuilt already; I'll post the result here when it's done."
COOLING = "I rebuilt the map for you recently; you can ask again in {minutes} minute(s)."


class Refresher:
    """Runs `rebuild(source)` on the source's build worker, one request per source at once."""

    def __init__(self, store, rebuild: Callable[[Any], Any]):
        self.store = store
        self.rebuild = rebuild
        self._guard = threading.Lock()
        self._one_at_a_time = threading.Lock()
        self._workers: dict[str, ThreadPoolExecutor] = {}
        self._running: dict[str, Future] = {}
        self._closed = False

    def mark_dirty(self, source) -> None:
        """Stored content changed since the last build of this source."""
        self.store.set_state(DIRTY_KEY.format(source=source.name), "1")

    def _flag(self, key: str, source) -> bool:
        return self.store.get_state(key.format(source=source.name)) == "1"

    def _dirty(self, source) -> bool:
        """Content changed since the last build began (it cleared the flag as it began)."""
        return self._flag(DIRTY_KEY, source)

    def is_stale(self, source) -> bool:
        never_built = self.store.snapshot_info(source.name) is None
        return never_built or self._dirty(source) or self._flag(BUILDING_KEY, source)

    def is_running(self, source) -> bool:
        with self._guard:
            return source.name in self._running

    def submit(self, source) -> Future:
        """Start a rebuild of the source on its worker, or join the one asked for already;
        the future of its result. A build that began before the latest content arrived is
        not joined: the answer is the next build's."""
        dirty = self._dirty(source)
        with self._guard:
            running = self._running.get(source.name)
            if running is None or running.done():  # a finished build not yet forgotten
                if self._closed:
                    raise RuntimeError("the bot is stopping; no new builds")
                worker = self._workers.get(source.name) or ThreadPoolExecutor(1, f"build-{source.name}")
                self._workers[source.name] = worker
                started = self._running[source.name] = worker.submit(self._build, source)
            else:
                started, stale = None, running.running() and dirty
        # callbacks are added outside the lock: one added to a finished future runs at once
        if started is not None:
            started.add_done_callback(lambda done: self._forget(source.name, done))
            return started
        if stale:
            log.info("Content of %s changed during the build under way; the next build answers", source.name)
            return self._after(running, source)
        log.info("Refresh of %s already under way; joining it", source.name)
        return running

    def _after(self, running: Future, source) -> Future:
        """The result of a build that starts (or is joined) once ``running`` is done: one
        that read the content which changed while ``running`` was under way."""
        later: Future = Future()

        def chain(_done: Future) -> None:
            try:
                follow = self.submit(source)
            except Exception as exc:  # the bot is stopping
                later.set_exception(exc)
                return
            follow.add_done_callback(lambda built: _copy(built, later))

        running.add_done_callback(chain)
        return later

    def refresh(self, source) -> Any:
        """Rebuild now, or join the rebuild of this source under way; its result."""
        return self.submit(source).result()

    def refresh_if_stale(self, source) -> Any:
        return self.refresh(source) if self.is_stale(source) else None

    def close(self) -> None:
        """Start no more builds; wait for the one running (it writes to the store)."""
        with self._guard:
            self._closed = True
            workers = list(self._workers.values())
        for worker in workers:
            worker.shutdown(wait=True)

    def _forget(self, name: str, done: Future) -> None:
        with self._guard:
            if self._running.get(name) is done:
                del self._running[name]

    def _build(self, source) -> Any:
        building = BUILDING_KEY.format(source=source.name)
        with self._one_at_a_time:
            if self._closed:  # waited behind another source's build while the bot stopped
                raise RuntimeError("the bot stopped before this build began")
            self.store.set_state(building, "1")
            self.store.set_state(DIRTY_KEY.format(source=source.name), None)
            log.info("Rebuilding the map of %s", source.name)
            try:
                return self.rebuild(source)
            except BaseException:
                self.mark_dirty(source)  # still stale: the next schedule tries again
                raise
            finally:
                self.store.set_state(building, None)


def _copy(source: Future, target: Future) -> None:
    error = source.exception()
    if error is not None:
        target.set_exception(error)
    else:
        target.set_result(source.result())


def refresh_command(refresher: Refresher, cooldown: "Cooldown", source, user_id: str,
                    describe: Callable[[Any], str]) -> str:
    """The `refresh` command: a reply now, and `describe(result)` of the build (which it
    starts or joins) as a follow-up when the build is done; or how long to wait."""
    running = refresher.is_running(source)
    wait = 0.0 if running else cooldown.wait_left(user_id)
    if wait:
        return COOLING.format(minutes=math.ceil(wait / 60))
    return FollowUp(JOINED if running else STARTED, then(refresher.submit(source), describe))


def then(future: Future, describe: Callable[[Any], str]) -> Future:
    """A future of the text describing `future`'s result, or a one-line error; never fails."""
    text: Future = Future()

    def done(finished: Future) -> None:
        try:
            text.set_result(describe(finished.result()))
        except Exception as exc:
            log.exception("A rebuild asked for in chat failed")
            text.set_result(friendly_error(exc))

    future.add_done_callback(done)
    return text


class Cooldown:
    """At most one `refresh` per person per `minutes`."""

    def __init__(self, minutes: float, clock: Callable[[], float] = time.monotonic):
        self.seconds = minutes * 60
        self.clock = clock
        self._last: dict[str, float] = {}
        self._lock = threading.Lock()

    def wait_left(self, person: str) -> float:
        """Seconds this person must still wait (0: allowed, and the clock starts now)."""
        with self._lock:
            now = self.clock()
            last = self._last.get(person)
            if last is not None and now - last < self.seconds:
                return self.seconds - (now - last)
            self._last[person] = now
            return 0.0
