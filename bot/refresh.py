"""One rebuild at a time: coalescing, staleness and the per-person `refresh` cooldown.

Whoever asks for a source's rebuild while one of it is running waits for that one and
gets its result, instead of starting another; different sources take turns, so the
process never runs two pipelines at once. Commands meanwhile keep answering from the
last complete snapshot, which the store guarantees.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import Future
from typing import Any, Callable

log = logging.getLogger(__name__)

DIRTY_KEY = "dirty.{source}"
BUILDING_KEY = "building.{source}"  # set for the length of a build: still set after a crash


class Refresher:
    """Runs `rebuild(source)` for sources, coalescing concurrent requests per source."""

    def __init__(self, store, rebuild: Callable[[Any], Any]):
        self.store = store
        self.rebuild = rebuild
        self._guard = threading.Lock()
        self._one_at_a_time = threading.Lock()
        self._running: dict[str, Future] = {}

    def mark_dirty(self, source) -> None:
        """Stored content changed since the last build of this source."""
        self.store.set_state(DIRTY_KEY.format(source=source.name), "1")

    def is_stale(self, source) -> bool:
        never_built = self.store.snapshot_info(source.name) is None
        return never_built or any(self.store.get_state(key.format(source=source.name)) == "1"
                                  for key in (DIRTY_KEY, BUILDING_KEY))

    def is_running(self, source) -> bool:
        with self._guard:
            return source.name in self._running

    def refresh(self, source) -> Any:
        """Rebuild now, or join the rebuild of this source already running; its result."""
        with self._guard:
            running = self._running.get(source.name)
            owner = running is None
            if owner:
                running = self._running[source.name] = Future()
        if not owner:
            log.info("Refresh of %s already running; joining it", source.name)
            return running.result()
        try:
            running.set_result(self._build(source))
        except BaseException as exc:
            running.set_exception(exc)
        finally:
            with self._guard:
                del self._running[source.name]
        return running.result()

    def refresh_if_stale(self, source) -> Any:
        return self.refresh(source) if self.is_stale(source) else None

    def _build(self, source) -> Any:
        building = BUILDING_KEY.format(source=source.name)
        with self._one_at_a_time:
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
