"""One person cannot use up the bot: a per-person command rate.

Zulip allows the bot about 200 requests a minute, shared by everyone it answers. A person
who sends commands faster than `per_minute` gets one polite "slow down" and then silence
until their window has room again; the commands over the limit are not answered (not
queued: a queue would spend the shared budget on a backlog for minutes, and answer
questions long after they were asked). They are still recorded in the inbox, so none is
answered late after a restart; and consent is never lost (see ``Dispatcher.submit``).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from enum import Enum
from typing import Callable

WINDOW_SECONDS = 60.0
SLOW_DOWN = ("You're sending me commands faster than I can answer everyone: I'll skip your "
             "commands for a minute or so (`opt out` still works). Please ask again then.")


class Admission(Enum):
    ANSWER = "answer"
    WARN = "warn"  # the first command over the limit: it gets SLOW_DOWN instead
    SKIP = "skip"  # over the limit, warned already: no reply


class CommandRate:
    """At most `per_minute` answered commands per person in any WINDOW_SECONDS (0: no limit)."""

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic,
                 window: float = WINDOW_SECONDS):
        self.per_minute = per_minute
        self.clock = clock
        self.window = window
        self._answered: dict[int, deque[float]] = {}  # each person's latest answered commands
        self._warned: set[int] = set()
        self._lock = threading.Lock()

    def admit(self, person: int) -> Admission:
        """Whether this person's next command is answered, and count it if it is."""
        if self.per_minute <= 0:
            return Admission.ANSWER
        with self._lock:
            now = self.clock()
            recent = self._answered.setdefault(person, deque(maxlen=self.per_minute))
            if len(recent) < self.per_minute or now - recent[0] >= self.window:
                recent.append(now)
                self._warned.discard(person)
                return Admission.ANSWER
            if person in self._warned:
                return Admission.SKIP
            self._warned.add(person)
            return Admission.WARN


class ConsentCooldown:
    """At most one `opt in` per person per `minutes`, so toggling cannot keep the map
    rebuilding, while a mistaken `opt out` can be undone at once; `opt out` is never
    refused (it is a right)."""

    def __init__(self, minutes: float, clock: Callable[[], float] = time.monotonic):
        self.seconds = minutes * 60
        self.clock = clock
        self._opted_in: dict[int, float] = {}  # each person's last opt-in
        self._lock = threading.Lock()

    def wait_left(self, command: str, person: int) -> float:
        """Seconds before this consent command may run (0: it runs, and is recorded)."""
        if command != "opt_in":
            return 0.0
        with self._lock:
            now, last = self.clock(), self._opted_in.get(person)
            if last is not None and now - last < self.seconds:
                return self.seconds - (now - last)
            self._opted_in[person] = now
            return 0.0
