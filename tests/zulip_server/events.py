"""Event queues: registration, delivery to matching queues, long-polling."""

from __future__ import annotations

import itertools
import threading
import time
from dataclasses import dataclass, field
from typing import Callable

from .realm import ApiError


@dataclass
class EventQueue:
    queue_id: str
    user_id: int
    event_types: list[str] | None
    wants_message: Callable[[int], bool]  # narrow / visibility filter for message events, by message id
    apply_markdown: bool = False
    events: list[dict] = field(default_factory=list)
    next_event_id: int = 0

    def wants(self, event_type: str) -> bool:
        return self.event_types is None or event_type in self.event_types


def bad_queue(queue_id: str) -> ApiError:
    return ApiError(f"Bad event queue ID: {queue_id}", "BAD_EVENT_QUEUE_ID", queue_id=queue_id)


class EventQueues:
    """All queues of the server; ``poll`` blocks on a condition until events arrive."""

    def __init__(self, poll_timeout: float = 10.0):
        self.poll_timeout = poll_timeout
        self.queues: dict[str, EventQueue] = {}
        self.changed = threading.Condition()
        self._ids = itertools.count(1)

    def register(self, user_id: int, event_types, wants_message, apply_markdown: bool = False) -> EventQueue:
        with self.changed:
            queue_id = f"{int(time.time())}:{next(self._ids)}"
            queue = EventQueue(queue_id, user_id, event_types, wants_message, apply_markdown)
            self.queues[queue.queue_id] = queue
            return queue

    def delete(self, queue_id: str, user_id: int) -> None:
        with self.changed:
            self._queue(queue_id, user_id)
            del self.queues[queue_id]
            self.changed.notify_all()

    def expire_all(self) -> None:
        """Forget every queue, as the real server does after ~10 idle minutes."""
        with self.changed:
            self.queues.clear()
            self.changed.notify_all()

    def deliver(self, event_type: str, user_ids: set[int], event_for: Callable[[EventQueue], dict | None]) -> None:
        """Append ``event_for(queue)`` to every queue of ``user_ids`` that asked for ``event_type``."""
        with self.changed:
            for queue in self.queues.values():
                if queue.user_id in user_ids and queue.wants(event_type):
                    event = event_for(queue)
                    if event is not None:
                        self._append(queue, event)
            self.changed.notify_all()

    def poll(self, queue_id: str, user_id: int, last_event_id: int, dont_block: bool,
             stopping: threading.Event) -> list[dict]:
        """Events after ``last_event_id``; waits up to ``poll_timeout``, then a heartbeat."""
        deadline = time.monotonic() + (0 if dont_block else self.poll_timeout)
        with self.changed:
            while True:
                queue = self._queue(queue_id, user_id)
                queue.events = [e for e in queue.events if e["id"] > last_event_id]
                remaining = deadline - time.monotonic()
                if queue.events or remaining <= 0 or stopping.is_set():
                    break
                self.changed.wait(min(remaining, 0.1))
            if not queue.events and not dont_block:
                self._append(queue, {"type": "heartbeat"})
            return list(queue.events)

    def _append(self, queue: EventQueue, event: dict) -> None:
        event["id"] = queue.next_event_id
        queue.next_event_id += 1
        queue.events.append(event)

    def _queue(self, queue_id: str, user_id: int) -> EventQueue:
        queue = self.queues.get(queue_id)
        if queue is None or queue.user_id != user_id:
            raise bad_queue(queue_id)
        return queue
