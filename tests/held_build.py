"""An embedder that can hold a map build mid-way, so tests see what happens during one."""

from __future__ import annotations

import threading

from pipeline.embed import HashingEmbedder


class HeldEmbedder(HashingEmbedder):
    """The hashing embedder. After `hold()`, the next build stops at its embedding step
    (`waiting` is set) until `release()`; with `busy`, it keeps a core busy meanwhile,
    as a CPU-heavy stage of a real build does."""

    def __init__(self, busy: bool = False):
        super().__init__()
        self.busy = busy
        self.waiting = threading.Event()
        self._held = threading.Event()
        self._released = threading.Event()

    def hold(self) -> None:
        self._released.clear()
        self.waiting.clear()
        self._held.set()

    def release(self) -> None:
        self._released.set()

    def encode(self, texts):
        if self._held.is_set():
            self._held.clear()
            self.waiting.set()
            self._wait_for_release()
        return super().encode(texts)

    def _wait_for_release(self) -> None:
        if not self.busy:
            assert self._released.wait(120), "the test never released the build"
            return
        while not self._released.is_set():
            sum(i * i for i in range(2_000))  # Python work: holds the GIL as a busy build would
