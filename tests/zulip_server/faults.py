"""Faults the tests ask for: 5xx answers, 429 rate limits, dropped connections, late answers."""

from __future__ import annotations

import threading
from dataclasses import dataclass


@dataclass
class Fault:
    kind: str  # "status", "rate_limit", "drop", "lost" (carried out, answer lost) or "late" (carried out, answered `delay` s late)
    remaining: int
    status: int | None = 500
    path_prefix: str | None = None
    retry_after: float = 1.0
    delay: float = 0.0

    def applies_to(self, api_path: str) -> bool:
        return self.remaining > 0 and (self.path_prefix is None or api_path.startswith(self.path_prefix))

    def body(self) -> dict | None:
        if self.kind == "rate_limit":
            return {"result": "error", "code": "RATE_LIMIT_HIT", "msg": "API usage exceeded rate limit",
                    "retry-after": self.retry_after}
        if self.kind in ("status", "lost"):
            return {"result": "error", "code": "BAD_REQUEST", "msg": f"Injected HTTP {self.status}"}
        return None


class Faults:
    """A list of pending faults; each request consumes the first one that applies."""

    def __init__(self):
        self._pending: list[Fault] = []
        self._lock = threading.Lock()

    def add(self, fault: Fault) -> None:
        with self._lock:
            self._pending.append(fault)

    def take(self, api_path: str) -> Fault | None:
        """The fault this request meets (path is relative to /api/v1, e.g. "/events")."""
        with self._lock:
            for fault in self._pending:
                if fault.applies_to(api_path):
                    fault.remaining -= 1
                    self._pending = [f for f in self._pending if f.remaining > 0]
                    return fault
        return None

    def clear(self) -> None:
        with self._lock:
            self._pending.clear()

    def pending(self) -> int:
        """How many requests the injected faults will still hit."""
        with self._lock:
            return sum(fault.remaining for fault in self._pending)
