"""Which commands are in hand, and trying the unanswered ones again (issue 21, item 6).

A command is in hand from the moment it is recorded until its last reply is sent (a
`refresh` owes a second one). A reply that could not be sent stays `sending` in the
inbox; ``RETRY_SECONDS`` later every pending command not in hand is answered again (a
reply that may be in Zulip already is looked for first), without waiting for a restart.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from typing import Callable

log = logging.getLogger(__name__)

RETRY_SECONDS = 60.0  # after a reply could not be sent, the pending commands are tried again


class Redelivery:
    """The commands in hand (by message id) and the one timer that retries the rest."""

    def __init__(self, retry: Callable[[], int]):
        self._retry_all = retry  # answers the pending commands not in hand; how many
        self._in_hand: Counter[int] = Counter()
        self._timer: threading.Timer | None = None
        self._closed = False
        self._lock = threading.Lock()

    def hold(self, message: dict) -> None:
        with self._lock:
            self._in_hand[int(message["id"])] += 1

    def done_with(self, message: dict) -> None:
        with self._lock:
            self._in_hand[int(message["id"])] -= 1
            self._in_hand += Counter()  # drops the ones at zero

    def not_in_hand(self, commands: list) -> list:
        """The pending commands (``.message``) nobody is answering now."""
        with self._lock:
            return [c for c in commands if int(c.message["id"]) not in self._in_hand]

    def later(self) -> None:
        """A reply could not be sent: retry what is pending in RETRY_SECONDS."""
        with self._lock:
            if self._timer is not None or self._closed:
                return
            self._timer = threading.Timer(RETRY_SECONDS, self._fire)
            self._timer.daemon = True
            self._timer.start()

    def _fire(self) -> None:
        with self._lock:
            self._timer = None
        try:
            log.info("Retried %d command(s) whose reply had not gone out", self._retry_all())
        except Exception:  # stopping, or the store failing: the next failure schedules again
            log.exception("Retrying the unanswered commands failed")

    def close(self) -> None:
        with self._lock:
            self._closed, timer, self._timer = True, self._timer, None
        if timer is not None:
            timer.cancel()
