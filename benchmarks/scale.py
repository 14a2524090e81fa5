"""The scale side of bench.py: generated people past the data set, answer times while a
rebuild runs, and how each stage grows with the number of people.

- ``people(talks, n)``: n talk descriptions; past the 11,972 talks each extra person is a
  talk with one sentence of another talk added, so every text is new to the encoder.
- ``answer_times``: each chat command answered ``repeats`` times on a stored map while
  the bot's build worker process rebuilds the same map over and over; the
  server-side time of one answer is ``Answerer.answer``, from parsed command to reply text
  (`who's into`: its topic embedded by the bot's query process, ``bot.queries``, a new
  topic each time).
  Memory is measured apart (``commands.command_peaks``): tracemalloc would count the
  rebuild's allocations too.
- ``growth``: the exponent b of time ≈ a·n^b between two sizes, per stage.
"""

from __future__ import annotations

import math
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from benchmarks.commands import COMMANDS, asked


def people(talks, n: int, seed: int):
    """n talks as a DataFrame with a ``text`` column (generated past the data set's size)."""
    import pandas as pd

    if n <= len(talks):
        return talks.sample(n=n, random_state=seed)
    rng = np.random.default_rng(seed)
    base = talks.sample(frac=1.0, random_state=seed).reset_index(drop=True)
    extra = base.sample(n=n - len(base), replace=True, random_state=seed).reset_index(drop=True)
    donors = base["text"].to_numpy()[rng.integers(0, len(base), len(extra))]
    extra["text"] = [f"{text} {donor.split('. ')[0].strip()}." for text, donor in zip(extra["text"], donors)]
    return pd.concat([base, extra], ignore_index=True)


def percentile_ms(times: list[float], q: float) -> float:
    return float(np.percentile(np.array(times) * 1000, q))


def answer_times(result, docs, model: str | None, cache, repeats: int) -> dict[str, dict[str, float]]:
    """{command: {"p50": ms, "p99": ms, "rebuilds": n}} answered during rebuilds, which run
    as the bot runs them: in its build worker process (``bot.builder.WorkerProcess``), on
    the same SQLite file, with the embeddings already cached there."""
    from bot.answers import Answerer, Asker, prefer_answers
    from bot.builder import BuildJob, EmbedderSpec, WorkerProcess
    from bot.commands import parse
    from bot.queries import QueryProcess
    from bot.service import import_documents
    from pipeline.params import PipelineParams
    from storage import Store

    switch = sys.getswitchinterval()
    prefer_answers()  # as the bot's process does (put back at the end, for the other measures)
    stop, rebuilds = threading.Event(), [0]
    times: dict[str, list[float]] = {text: [] for text in COMMANDS}
    with tempfile.TemporaryDirectory(prefix="batchviz-answers-") as folder:
        database = Path(folder) / "db.sqlite3"
        with Store(database) as store:
            import_documents(store, "bench", docs)
            store.put_embeddings(result.model, cache.get_embeddings(result.model, [d.text_hash for d in docs]))
            store.save_snapshot("bench", result)
            queries = QueryProcess(EmbedderSpec(model))
            answerer = Answerer(store, "bench", links=lambda: "https://maps.example/m", encode=queries)
            answerer.latest_map()
            queries("a first topic")  # the query process started and its model loaded, as after the first ask
            builds = WorkerProcess()
            job = BuildJob(database, None, "bench", PipelineParams(), EmbedderSpec(model), refit=True)
            builds.run(job)
            answerer.warm()  # the worker started, its functions compiled: now the rebuilds to answer beside

            def rebuild_loop():
                while not stop.is_set():
                    builds.run(job)
                    answerer.warm()  # as the bot does after each build
                    rebuilds[0] += 1

            worker = threading.Thread(target=rebuild_loop, name="bench-rebuild", daemon=True)
            worker.start()
            try:
                for i in range(repeats):
                    person = result.people[i % len(result.people)]
                    for text in COMMANDS:
                        start = time.perf_counter()
                        answerer.answer(parse(asked(text, i)), Asker(person.person_id, person.name))
                        times[text].append(time.perf_counter() - start)
            finally:
                stop.set()
                worker.join()
                builds.close()
                queries.close()
                sys.setswitchinterval(switch)
    return {text: {"p50": percentile_ms(t, 50), "p99": percentile_ms(t, 99), "rebuilds": rebuilds[0]}
            for text, t in times.items()}


def growth(rows: list[dict], keys: list[str]) -> list[list]:
    """[sizes, exponent per key...] between consecutive sizes of ``rows`` (one run each).

    ``rows`` have "size" and a value per key (None: not measured); the exponent is
    log(v2/v1) / log(n2/n1), or None when a value is missing or too small to compare.
    """
    rows = sorted(rows, key=lambda r: r["size"])
    lines = []
    for small, large in zip(rows, rows[1:]):
        ratio = math.log(large["size"] / small["size"])
        exponents = []
        for key in keys:
            a, b = small.get(key), large.get(key)
            good = a is not None and b is not None and a > 0.005 and b > 0
            exponents.append(math.log(b / a) / ratio if good else None)
        lines.append([f"{small['size']}→{large['size']}", *exponents])
    return lines
