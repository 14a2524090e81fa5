"""Embedding a chat query (`who's into <topic>`) with the map's model, outside the bot's process.

The bot's process never loads the model (see ``bot.builder``). The build worker keeps it
loaded, but it runs one build at a time and UMAP's loops hold its interpreter lock for
seconds, so a query sent there would wait for the rebuild under way. So queries get a
process of their own: spawned at the first query, it loads the embedder the settings name
(the same ``EmbedderSpec`` the builds use, hence the same model and prefix) and keeps it.
One query is a few word pieces: milliseconds of one core, even beside a rebuild. Its
price is a second copy of the model in memory, paid only once somebody asks.

The reply carries the model's id, so an answer never compares a query with a map built by
another model. Recent queries are remembered (``REMEMBERED``): people ask the same topics.
A bot given an embedder object (the tests) encodes in its own process instead:
``InProcessQueries``.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

import numpy as np

from bot.builder import EmbedderSpec, spawn_one
from pipeline.errors import PipelineError

log = logging.getLogger(__name__)

REMEMBERED = 256  # recent queries whose vectors are kept
ENCODER_DIED = "The process that reads your question stopped unexpectedly; please ask again."

_loaded: dict[EmbedderSpec, object] = {}  # in the encoder process


def encode_query(spec: EmbedderSpec, text: str) -> tuple[str, np.ndarray]:
    """In the encoder process: (model id, the query's unit vector)."""
    embedder = _loaded.get(spec)
    if embedder is None:
        embedder = _loaded[spec] = spec.load()
    return embedder.model_id, np.asarray(embedder.encode([text])[0], dtype=np.float32)


class _Remembered:
    """The last ``REMEMBERED`` answers of an encoder, by query text."""

    def __init__(self):
        self._lock = threading.Lock()
        self._vectors: OrderedDict[str, tuple[str, np.ndarray]] = OrderedDict()

    def get(self, text: str, compute) -> tuple[str, np.ndarray]:
        with self._lock:
            if text in self._vectors:
                self._vectors.move_to_end(text)
                return self._vectors[text]
        found = compute(text)
        with self._lock:
            self._vectors[text] = found
            while len(self._vectors) > REMEMBERED:
                self._vectors.popitem(last=False)
        return found


class InProcessQueries:
    """Encodes on the calling thread with the given embedder object (tests, the CLI demo)."""

    def __init__(self, embedder):
        self.embedder = embedder
        self._remembered = _Remembered()

    def __call__(self, text: str) -> tuple[str, np.ndarray]:
        return self._remembered.get(text, self._encode)

    def _encode(self, text: str) -> tuple[str, np.ndarray]:
        return self.embedder.model_id, np.asarray(self.embedder.encode([text])[0], dtype=np.float32)

    def close(self) -> None:
        pass


class QueryProcess:
    """Encodes queries in one long-lived process of its own, started at the first query."""

    def __init__(self, spec: EmbedderSpec):
        self.spec = spec
        self._lock = threading.Lock()
        self._pool: ProcessPoolExecutor | None = None
        self._remembered = _Remembered()

    def __call__(self, text: str) -> tuple[str, np.ndarray]:
        return self._remembered.get(text, self._encode)

    def _encode(self, text: str) -> tuple[str, np.ndarray]:
        pool = self._pool_now()
        try:
            return pool.submit(encode_query, self.spec, text).result()
        except BrokenProcessPool as exc:  # killed, out of memory: a new one at the next query
            log.error("The query encoder process died")
            with self._lock:
                if self._pool is pool:
                    self._pool = None
            raise PipelineError(ENCODER_DIED) from exc

    def _pool_now(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = spawn_one("Query encoder", threads=1)  # a topic is tiny; the cores are the builds'
            return self._pool

    def close(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)

