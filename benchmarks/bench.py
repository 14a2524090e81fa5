"""Speed and memory of the map pipeline, with the issue's targets.

    python benchmarks/bench.py [--sizes 100,1000,5000] [--quick] [--keep DIR]

For each size, people are pyvideo talk descriptions with made-up names, written to a
``name,text`` CSV. Runs, in this order:

- ``cold``: a fresh process running ``batchviz map --csv F -o F.html --data-dir D`` with an
  empty data dir (nothing cached, the model loaded from disk), on the default backend,
  onnx (the model's ONNX export already in the user's cache, made once before the runs,
  as numba's compiled functions are);
- ``rebuild``: the same command again: a fresh process, embeddings cached in D's SQLite;
- after each of those runs, the page it wrote opened once in a fresh headless Chromium:
  ``drawn s`` is the time from navigation to the map drawn (``first_paint.py``);
- in this process, with the model loaded: a bare ``SentenceTransformer.encode`` of the
  texts and ``embed_documents`` of the same texts, interleaved in chunks of 256 (the
  throughput comparison; the bare time is also the one the 5,000 target adds 60 s to), then
  ``build_map`` twice on the warm cache: ``warm-1`` (the first build of the process, with
  numba compiling) and ``warm-2`` (a full rebuild inside a long-running process, as the
  nightly one: ``refit=True``);
- on the warm-2 map, each chat command once, with its peak memory (``commands.py``), and
  (up to 5,000 people) each command's answer time p50/p99 while the bot's build worker
  process rebuilds the map (``scale.py``);
- ``one-new``: one more person, the bot's way: its build worker process
  (``bot.builder.WorkerProcess``) runs ``bot.service.rebuild`` on a real store, map files
  written, after the worker's first build fitted the map (one text to encode; the newcomer
  placed on the worker's UMAP fit, see ``pipeline.incremental``).
  The ``layout`` column says whether a build fitted UMAP ("fit") or placed newcomers
  ("transform");
- speed-ups over the bare encode (sentence-transformers' own batches of 32), each
  interleaved with it: batchviz's encode as it feeds the model (batches by word pieces,
  ``pipeline.embed.BATCH_TOKENS``) on torch; the same cut at 128 word pieces instead of the
  model's default 256 (the ``embedding_max_tokens`` setting); and on the onnx backend
  (the ``embedding_backend`` setting, the default);
- with the real model, ``cold-torch``: the cold run again with ``--backend torch`` (the
  default until issue 24) and a new empty data dir;
- at 100 people with the bundled model, ``versus.py``'s table: the original script's work,
  batchviz on torch and on onnx, cold, in turn (3 rounds; ``--quick`` 1), with each one's
  ratio to the original, and the first-ever runs (an empty user cache: the ONNX export
  and numba's compiles);
- at 100 people, ``first-answer``: ``batchviz run`` started with the map already built,
  seconds from Popen to its reply to a DM sent at once, median of ``status`` and
  ``near me`` starts (``first_answer.py``, on the Zulip test server; hashing embedder,
  as no build runs on those starts).

Past the data set's 11,972 talks people are generated (``scale.people``). The growth
table gives each stage's exponent b (time ≈ a·n^b) between consecutive sizes of the cold run.

Per-stage times of the subprocess runs come from the snapshot the CLI saves in D
(``params["timings"]``); "other" is total minus the stages (start-up, imports, reading the
CSV, rendering, writing). Peak memory of a subprocess is its own ``ru_maxrss``, read by
``benchmarks.measured`` (see there why not by this process).
"""

from __future__ import annotations

import argparse
import functools
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(REPO))

from benchmarks import scale, versus  # noqa: E402
from benchmarks.commands import command_peaks  # noqa: E402
from benchmarks.common import (TARGETS, BenchmarkError, format_table, load_talks, machine,  # noqa: E402
                               parse_sizes, verdict, write_csv)
from benchmarks.versus import batchviz_command, run_process  # noqa: E402
from pipeline.embed import SentenceTransformerEmbedder, _bundled_path  # noqa: E402

STAGES = ("embed", "reduce_clusters", "cluster", "reduce_picture", "renumber", "keywords", "neighbours")
COLUMNS = ["size", "run", "total s", "embed", "reduce_cl", "cluster", "reduce_pic", "keywords",
           "neighbours", "other", "peak MiB", "page MB", "drawn s", "layout"]
CHUNK = 256  # texts per step of the interleaved throughput comparison
ANSWER_SIZES = 5000  # answer times are measured up to this many people
CUT = 128  # the word-piece cut compared with the model's default
BARE_BATCH = 32  # sentence-transformers' default batch size: the bare encode's
FIRST_ANSWER_REPEATS = 3  # starts per command


def snapshot_timings(data_dir: Path) -> tuple[dict[str, float], str | None]:
    """The per-stage timings and the layout update of the latest map the CLI saved in ``data_dir``."""
    from bot.cli import CSV_SOURCE
    from bot.settings import database_path
    from storage import Store

    with Store(database_path(data_dir)) as store:
        snapshot = store.latest_snapshot(CSV_SOURCE)
    return (dict(snapshot.params.get("timings", {})), layout_update(snapshot)) if snapshot else ({}, None)


def row(size: int, run: str, total: float, timings: dict, peak: float | None, page: float | None = None,
        layout: str | None = None, drawn: float | None = None) -> dict:
    return {"size": size, "run": run, "total": total, "timings": timings, "peak": peak, "page": page,
            "layout": layout, "drawn": drawn}


def page_drawn(page: Path) -> float | None:
    """Seconds from opening ``page`` in a fresh headless Chromium to its map drawn
    (``first_paint.measure``); None, with a note, where Chromium cannot run."""
    from benchmarks import first_paint

    try:
        return first_paint.measure(page)["map_ms"] / 1000
    except Exception as exc:  # no browser here: the other columns still count
        print(f"note: no 'drawn s' for {page.name}: {type(exc).__name__}: {exc}", file=sys.stderr)
        return None


def subprocess_runs(size: int, csv_path: Path, folder: Path, model: str | None) -> list[dict]:
    """The cold run and the fresh-process rebuild through the CLI on the default backend
    (onnx); with a real model, a cold run on torch too, the old default (a data dir of its own)."""
    runs = [("cold", None, "data"), ("rebuild", None, "data")]
    if onnx_ready(model):
        runs.append(("cold-torch", "torch", "data-torch"))
    rows = []
    for run, backend, data in runs:
        data_dir = folder / f"{data}-{size}"
        measured = run_process(batchviz_command(csv_path, data_dir, model, backend), folder / f"{run}-{size}.log")
        page = csv_path.with_suffix(".html")
        timings, layout = snapshot_timings(data_dir)
        rows.append(row(size, run, measured["wall"], timings, measured["peak_mib"], page.stat().st_size / 1e6, layout,
                        page_drawn(page)))
    return rows


@functools.lru_cache(maxsize=None)
def onnx_ready(model: str | None) -> bool:
    """Whether the onnx backend runs ``model`` (not the hashing embedder, not a hub name);
    its one-time export is made here, outside the timed runs. If not, the torch rows
    (the same as the default's then) are left out with a note."""
    from pipeline.errors import ModelLoadError
    from pipeline.onnx_encoder import OnnxEncoder

    if model == "hashing":
        return False
    try:
        OnnxEncoder(model or _bundled_path())
    except ModelLoadError as exc:
        print(f"note: no torch rows (the default runs on torch): {exc}", file=sys.stderr)
        return False
    return True


def bare_encode(embedder, texts: list[str]) -> None:
    """The embedding library called directly, as a user of sentence-transformers would (the
    hashing embedder: its own encode)."""
    if not isinstance(embedder, SentenceTransformerEmbedder):
        embedder.encode(texts)
        return
    model = SentenceTransformerEmbedder(embedder.model, backend="torch").load().model
    model.encode(texts, batch_size=BARE_BATCH, normalize_embeddings=True, convert_to_numpy=True)


def embedding_times(embedder, docs, cache, chunk: int = CHUNK) -> tuple[float, float]:
    """(bare encode s, ``embed_documents`` s) of ``docs``, interleaved chunk by chunk."""
    from pipeline.embed import embed_documents

    return interleaved(lambda part: bare_encode(embedder, [d.text for d in part]),
                       lambda part: embed_documents(part, embedder, cache), docs, chunk)


def interleaved(first, second, docs, chunk: int = CHUNK) -> tuple[float, float]:
    """Seconds of ``first(part)`` and ``second(part)`` over ``docs``, alternated by chunk.

    Alternating the two in chunks (and which goes first) exposes both to the same load:
    on a shared machine two whole passes one after the other are not comparable.
    """
    times = [0.0, 0.0]
    for number, start in enumerate(range(0, len(docs), chunk)):
        part = docs[start:start + chunk]
        steps = [(0, first), (1, second)]
        for side, step in steps if number % 2 == 0 else steps[::-1]:
            began = time.perf_counter()
            step(part)
            times[side] += time.perf_counter() - began
    return times[0], times[1]


def in_process_runs(size: int, csv_path: Path, model: str | None, repeats: int,
                    folder: Path) -> tuple[list[dict], dict]:
    """warm-1 / warm-2 / one-new builds, the embedding comparisons, and the commands."""
    from pipeline.build import build_map
    from pipeline.csv_import import read_csv
    from pipeline.embed import MemoryCache, load_embedder

    docs = read_csv(csv_path)
    embedder, cache = load_embedder(model), MemoryCache()
    bare_encode(embedder, [d.text for d in docs[:2]])  # load the model: load time is not throughput
    bare, piped = embedding_times(embedder, docs, cache)
    rows, previous = [], None
    for run in ("warm-1", "warm-2"):
        start = time.perf_counter()
        previous = build_map(docs, None, embedder, cache, previous, refit=True)
        rows.append(row(size, run, time.perf_counter() - start, previous.params["timings"], None,
                        layout=layout_update(previous)))
    rows.append(one_new(size, docs, embedder, previous, folder, model))
    encode = {"size": size, "texts": len(docs), "bare": bare, "pipeline": piped,
              "commands": command_peaks(previous), "batched": speedup(embedder, docs, model, backend="torch"),
              "cut": speedup(embedder, docs, model, max_tokens=CUT, backend="torch"),
              "onnx": speedup(embedder, docs, model, backend="onnx") if onnx_ready(model) else None,
              "answers": scale.answer_times(previous, docs, model, cache, repeats) if size <= ANSWER_SIZES else {}}
    return rows, encode


def layout_update(result) -> str | None:
    return result.params.get("resolved", {}).get("layout_update")


def one_new(size: int, docs, embedder, previous, folder: Path, model: str | None) -> dict:
    """One new intro at ``size`` people, built as the bot builds: ``bot.builder``'s worker
    process runs ``bot.service.rebuild`` on a real store (embeddings cached there). The
    worker is long-running: its first build fits the map and loads the model there (one
    text is left out of the cache), then the build after a newcomer is the one timed."""
    from bot.builder import BuildJob, EmbedderSpec, WorkerProcess
    from bot.service import import_documents, offline_message_id
    from pipeline.params import PipelineParams
    from storage import Store

    source, database = "bench", folder / f"one-new-{size}.sqlite3"
    job = BuildJob(database, None, source, PipelineParams(), EmbedderSpec(model), outputs=folder / f"maps-{size}")
    builds = WorkerProcess()
    with Store(database) as store:
        import_documents(store, source, docs)
        store.put_embeddings(embedder.model_id, {d.text_hash: v for d, v in zip(docs[1:], previous.embeddings[1:])})
        text = docs[0].text + " Lately I have been learning to bake bread."
        try:
            builds.run(job)  # the fit, as after the bot starts
            store.upsert_person("newcomer", f"{docs[0].name} New")
            store.upsert_message(source, offline_message_id(source, "newcomer"), "newcomer", text, text, len(docs) + 1)
            start = time.perf_counter()
            result = builds.run(job).result
            wall = time.perf_counter() - start
        finally:
            builds.close()
    return row(size, "one-new", wall, result.params["timings"], None, layout=layout_update(result))


def first_answer_row(folder: Path, data, repeats: int) -> dict:
    """``batchviz run`` start to first answer at 100 people (median over the starts)."""
    import statistics

    from benchmarks import first_answer

    runs = first_answer.measure(100, repeats, "hashing", folder / "first-answer", data)["runs"]
    return row(100, "first-answer", statistics.median(r["reply"] for r in runs), {}, None)


def speedup(embedder, docs, model: str | None, **options) -> float | None:
    """Bare encode time of the model / batchviz's encode of the model loaded with
    ``options`` (none, ``max_tokens=CUT``, ``backend="onnx"``), interleaved; None for the
    hashing embedder."""
    from pipeline.embed import load_embedder

    if not isinstance(embedder, SentenceTransformerEmbedder):
        return None
    other = load_embedder(model, **options)
    other.encode([d.text for d in docs[:2]])
    full, fed = interleaved(lambda part: bare_encode(embedder, [d.text for d in part]),
                            lambda part: other.encode([d.text for d in part]), docs)
    return full / fed


def table(rows: list[dict]) -> str:
    lines = []
    for r in rows:
        stages = [r["timings"].get(s) for s in STAGES if s != "renumber"]
        other = r["total"] - sum(r["timings"].values()) if r["timings"] else None
        lines.append([r["size"], r["run"], r["total"], *stages, other, r["peak"], r["page"], r.get("drawn"),
                      r.get("layout")])
    return format_table(COLUMNS, lines)


def growth_table(rows: list[dict]) -> str:
    """How the cold run grows: the exponent b of n^b per stage, total and peak memory."""
    keys = ["total", *STAGES, "peak"]
    flat = [{"size": r["size"], "total": r["total"], "peak": r["peak"], **r["timings"]} for r in rows if r["run"] == "cold"]
    names = ["sizes", "total", "embed", "reduce_cl", "cluster", "reduce_pic", "renumber", "keywords", "neighbours", "peak"]
    return "growth exponent b (time ~ n^b), cold run\n" + format_table(names, scale.growth(flat, keys))


def throughput_table(encodes: list[dict]) -> str:
    lines = [[e["size"], e["texts"] / e["bare"], e["texts"] / e["pipeline"], e["bare"] / e["pipeline"],
              e.get("batched"), e["cut"], e.get("onnx")] for e in encodes]
    return format_table(["size", "bare encode texts/s", "embed_documents texts/s", "ratio",
                         "speed-up, batchviz's batches", f"at {CUT} tokens", "onnx"], lines)


def commands_table(encodes: list[dict]) -> str:
    lines = [[e["size"], command, peak, *[e["answers"].get(command, {}).get(q) for q in ("p50", "p99")]]
             for e in encodes for command, peak in e["commands"].items()]
    return format_table(["size", "command", "peak MiB", "p50 ms (rebuilding)", "p99 ms (rebuilding)"], lines)


def targets(rows: list[dict], encodes: list[dict]) -> list[list]:
    """[target, size, value, target value, PASS/MISS] for what was measured."""
    find = {(r["size"], r["run"]): r for r in rows}
    checks = []
    if 100 in {r["size"] for r in rows}:
        checks += [("cold end to end (s)", 100, find[(100, "cold")]["total"], TARGETS["cold_100"], True),
                   ("rebuild, fresh process (s)", 100, find[(100, "rebuild")]["total"], TARGETS["rebuild_fresh_100"], True),
                   ("rebuild, long-running (s)", 100, find[(100, "warm-2")]["total"], TARGETS["rebuild_warm_100"], True)]
    if (100, "cold-torch") in find:
        checks.append(("cold end to end, torch (old default) (s)", 100, find[(100, "cold-torch")]["total"],
                       TARGETS["cold_100"], True))
    if (100, "first-answer") in find:
        checks.append(("run start to first answer, map built (s)", 100, find[(100, "first-answer")]["total"],
                       TARGETS["first_answer_100"], True))
    if (1000, "one-new") in find:
        checks.append(("one new intro, long-running (s)", 1000, find[(1000, "one-new")]["total"], TARGETS["one_new_1000"], True))
    for e in encodes:
        checks += encode_checks(e, find)
    for r in rows:
        if r["peak"] is not None and r["size"] in TARGETS["peak_mib"]:
            checks.append((f"peak memory, {r['run']} (MiB)", r["size"], r["peak"], TARGETS["peak_mib"][r["size"]], True))
    if (20000, "cold") in find:
        checks.append(("map page (MB)", 20000, find[(20000, "cold")]["page"], TARGETS["page_mb_20000"], True))
        if find[(20000, "cold")]["drawn"] is not None:
            checks.append(("map page drawn (s)", 20000, find[(20000, "cold")]["drawn"], TARGETS["drawn_20000"], True))
    return [[name, size, value, want, verdict(value, want, at_most)] for name, size, value, want, at_most in checks]


def encode_checks(e: dict, find: dict) -> list[tuple]:
    size, checks = e["size"], []
    if size >= 5000:
        checks.append(("cold minus bare encode (s)", size, find[(size, "cold")]["total"] - e["bare"], TARGETS["over_encode"], True))
    if size >= 5000 and e["answers"]:
        worst = max(a["p99"] for a in e["answers"].values())
        checks.append(("slowest command p99, rebuilding (ms)", size, worst, TARGETS["answer_p99_ms"], True))
    if size == 1000 and e.get("batched") is not None:
        checks.append(("encode speed-up, batchviz's batches", size, e["batched"], TARGETS["cut_speedup"], False))
    if size == 1000 and e["cut"] is not None:
        checks.append((f"encode speed-up at {CUT} tokens", size, e["cut"], TARGETS["cut_speedup"], False))
    if size == 1000 and e.get("onnx") is not None:
        checks.append(("encode speed-up, onnx backend", size, e["onnx"], TARGETS["cut_speedup"], False))
    checks.append(("embed throughput / bare", size, e["bare"] / e["pipeline"], TARGETS["throughput"], False))
    checks.append(("memory of the costliest command (MiB)", size, max(e["commands"].values()), TARGETS["command_mib"], True))
    return checks


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="100,1000,5000", help="numbers of people, comma-separated")
    parser.add_argument("--quick", action="store_true", help="only 100 people, few answer repeats")
    parser.add_argument("--repeats", type=int, default=100, help="answers per command while rebuilding")
    parser.add_argument("--data", default=None, help="the pyvideo parquet file")
    parser.add_argument("--model", default=None, help="embedding model (default: the bundled one; 'hashing': no model)")
    parser.add_argument("--keep", default=None, help="keep CSVs, maps, logs and data dirs in this folder")
    return parser.parse_args(argv)


def bench(sizes: list[int], folder: Path, data=None, model: str | None = None, repeats: int = 100,
          first_answer_repeats: int = FIRST_ANSWER_REPEATS, versus_rounds: int = versus.ROUNDS):
    """(rows, encodes, versus rows): the runs of each size, the embedding comparisons, and
    at 100 people with the bundled model the original script side by side (``versus.py``)."""
    talks = load_talks(data)
    rows, encodes, versus_rows = [], [], []
    for size in sizes:
        csv_path = folder / f"people-{size}.csv"
        write_csv(csv_path, scale.people(talks, size, seed=size))
        rows += subprocess_runs(size, csv_path, folder, model)
        warm, encode = in_process_runs(size, csv_path, model, repeats, folder)
        rows += warm
        encodes.append(encode)
        if size == 100:
            rows.append(first_answer_row(folder, data, first_answer_repeats))
            if onnx_ready(model) and model is None:
                versus_rows = versus.side_by_side(csv_path, folder, versus_rounds)
    return rows, encodes, versus_rows


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        sizes = [100] if args.quick else parse_sizes(args.sizes)
        repeats = min(args.repeats, 5) if args.quick else args.repeats
        with tempfile.TemporaryDirectory(prefix="batchviz-bench-") as tmp:
            folder = Path(args.keep or tmp)
            folder.mkdir(parents=True, exist_ok=True)
            rows, encodes, versus_rows = bench(sizes, folder, args.data, args.model, repeats,
                                               1 if args.quick else FIRST_ANSWER_REPEATS, 1 if args.quick else versus.ROUNDS)
    except BenchmarkError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    checks = targets(rows, encodes) + (versus.targets(versus_rows, 100) if versus_rows else [])
    print(machine(), f"load average: {' '.join(f'{x:.1f}' for x in os.getloadavg())}", table(rows),
          *([versus.table(versus_rows)] if versus_rows else []), growth_table(rows), throughput_table(encodes),
          commands_table(encodes), format_table(["target", "size", "value", "target value", "result"], checks), sep="\n\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
