"""Map builds in a worker process of the bot's own.

UMAP's and HDBSCAN's compiled loops hold Python's interpreter lock for seconds at a time.
Run in the bot's process, they held every chat answer behind them (a `near me` p99 of
2.9 s at 1,000 people during a rebuild). So the bot's process never imports the
pipeline: each build is a ``BuildJob`` sent to one long-lived worker process (spawned,
so it shares no threads or locks with the bot) that keeps the model loaded and UMAP's
functions compiled between builds, opens the same SQLite file, and sends back the
``RebuildResult``.

If the worker dies (killed, out of memory), the build is tried once more in a new
worker; a second death fails it like any failed build (the source stays stale and the
next schedule tries again). The worker ignores SIGINT and SIGTERM: the bot stops it in order, after the
build under way has written its snapshot. If the bot itself is killed, the worker
notices within a second that its parent is gone and exits.

The worker is spawned, so it imports the program's main module again: a script that
builds through it keeps its own work under ``if __name__ == "__main__":`` (``bot.cli`` and
the benchmarks do).

A bot given an embedder object (the tests' way to hold or break a build) builds in its
own process instead, with that object: ``InProcessBuilds``.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path

from bot import logs
from pipeline.embed import DEFAULT_BACKEND
from pipeline.errors import PipelineError
from pipeline.params import PipelineParams

log = logging.getLogger(__name__)

LOG_FORMAT = logs.LOG_FORMAT
PARENT_CHECK_SECONDS = 1.0
WORKER_ATTEMPTS = 2  # a build whose worker dies is tried once more, in a new worker
WORKER_DIED = "The map builder stopped unexpectedly twice (out of memory?); the map was not rebuilt."


@dataclass(frozen=True)
class EmbedderSpec:
    """Which embedder a build uses, by the settings that name it (picklable)."""

    model: str | None = None  # None: the bundled all-MiniLM-L6-v2; "hashing": the cheap test one
    prefix: str = ""
    max_tokens: int | None = None
    backend: str = DEFAULT_BACKEND

    def load(self):
        """The embedder (a model is loaded on first use)."""
        from pipeline.embed import load_embedder

        return load_embedder(self.model, self.prefix, max_tokens=self.max_tokens, backend=self.backend)


@dataclass(frozen=True)
class BuildJob:
    """Everything a build needs, sent to the worker process."""

    database: Path
    retention_days: float | None
    source: str
    params: PipelineParams
    embedder: EmbedderSpec
    outputs: Path | None = None
    names: object = None  # a service.NamePolicy (None: the default policy)
    title: str | None = None
    refit: bool = False  # fit the whole map afresh, never place newcomers on the last fit


_embedders: dict[EmbedderSpec, object] = {}  # in the worker: loaded once, kept between builds


def run_job(job: BuildJob, embedder=None):
    """Build, render and save one map (``service.rebuild``) on its own store connection;
    ``embedder`` None: the one ``job.embedder`` names, loaded once per process."""
    from bot import service
    from storage import Store

    if embedder is None:
        embedder = _embedders.get(job.embedder)
        if embedder is None:
            embedder = _embedders[job.embedder] = job.embedder.load()
    names = job.names if job.names is not None else service.NamePolicy()
    # no integrity scan per build (it reads the whole file): the bot scanned it at its start,
    # and damage SQLite meets in a query still raises CorruptDatabaseError
    with Store(job.database, retention_days=job.retention_days, check=False) as store:
        return service.rebuild(store, job.source, job.params, embedder, outputs=job.outputs,
                               names=names, title=job.title, refit=job.refit)


class InProcessBuilds:
    """Builds on the calling thread, with the given embedder object."""

    def __init__(self, embedder):
        self.embedder = embedder

    def run(self, job: BuildJob):
        return run_job(job, self.embedder)

    def close(self) -> None:
        pass


class WorkerProcess:
    """Builds in one long-lived worker process, started at the first build."""

    def __init__(self):
        self._lock = threading.Lock()
        self._pool: ProcessPoolExecutor | None = None

    def run(self, job: BuildJob):
        """The build's result; a worker that dies (killed while idle, say) is replaced and
        the build tried once more, and a second death fails the build."""
        for attempt in range(WORKER_ATTEMPTS):
            pool = self._pool_now()
            try:
                return pool.submit(run_job, job).result()
            except BrokenProcessPool as exc:
                log.error("The build worker process died (building %s)", job.source)
                self._discard(pool)
                if attempt == WORKER_ATTEMPTS - 1:
                    raise PipelineError(WORKER_DIED) from exc

    def _pool_now(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = spawn_one("Build worker")
            return self._pool

    def _discard(self, pool: ProcessPoolExecutor) -> None:
        with self._lock:
            if self._pool is pool:
                self._pool = None
        pool.shutdown(wait=True)  # returns at once: its process is gone

    def close(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True)


def spawn_one(role: str, threads: int | None = None) -> ProcessPoolExecutor:
    """A pool of one spawned process of the bot's own (builds; `who's into` topics:
    ``bot.queries``), which logs "<role> <pid> started" in the bot's log format;
    ``threads`` caps its maths libraries'."""
    context = multiprocessing.get_context("spawn")
    return ProcessPoolExecutor(1, mp_context=context, initializer=_worker_started,
                               initargs=(os.getpid(), logging.getLogger().level, role, threads, logs.current()))


def _worker_started(parent: int, level: int, role: str, threads: int | None, log_format: str = "text") -> None:
    """In the worker: log like the bot, leave stopping to the bot, exit when it is gone."""
    if threads:  # before any maths library is imported here
        os.environ["OMP_NUM_THREADS"] = os.environ["MKL_NUM_THREADS"] = str(threads)
    logs.configure(level, log_format)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    log.info("%s %d started", role, os.getpid())
    threading.Thread(target=_exit_with_parent, args=(parent,), name="parent-watch", daemon=True).start()


def _exit_with_parent(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(PARENT_CHECK_SECONDS)
    os._exit(1)
