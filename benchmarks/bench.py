"""Speed and memory of the map pipeline, with the issue's targets.

    python benchmarks/bench.py [--sizes 100,1000,5000] [--quick] [--keep DIR]

For each size, people are pyvideo talk descriptions with made-up names, written to a
``name,text`` CSV. Runs, in this order:

- ``cold``: a fresh process running ``batchviz map --csv F -o F.html --data-dir D`` with an
  empty data dir (nothing cached, the model loaded from disk);
- ``rebuild``: the same command again: a fresh process, embeddings cached in D's SQLite;
- in this process, with the model loaded: a bare ``SentenceTransformer.encode`` of the
  texts and ``embed_documents`` of the same texts, interleaved in chunks of 256 (the
  throughput comparison; the bare time is also the one the 5,000 target adds 60 s to), then
  ``build_map`` twice on the warm cache: ``warm-1`` (the first build of the process, with
  numba compiling) and ``warm-2`` (a rebuild inside a long-running process);
- on the warm-2 map, each chat command once, with its peak memory (``commands.py``).

Per-stage times of the subprocess runs come from the snapshot the CLI saves in D
(``params["timings"]``); "other" is total minus the stages (start-up, imports, reading the
CSV, rendering, writing). Peak memory of a subprocess is its own ``ru_maxrss`` (os.wait4).
"""

from __future__ import annotations

import argparse
import csv
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.commands import command_peaks  # noqa: E402
from benchmarks.common import (BenchmarkError, format_table, load_talks, parse_sizes,  # noqa: E402
                               synthetic_name, verdict)

STAGES = ("embed", "reduce_clusters", "cluster", "reduce_picture", "renumber", "keywords", "neighbours")
COLUMNS = ["size", "run", "total s", "embed", "reduce_cl", "cluster", "reduce_pic", "keywords",
           "neighbours", "other", "peak MiB"]
CHUNK = 256  # texts per step of the interleaved throughput comparison
TARGETS = {"cold_100": 12.0, "rebuild_fresh_100": 5.0, "rebuild_warm_100": 1.0,
           "over_encode": 60.0, "peak_mib": 3 * 1024.0, "throughput": 0.90,
           "command_mib": 64.0}  # any one command, at any size: O(n·d), never O(n²·d)


def write_csv(path: Path, talks) -> None:
    """A ``name,text`` CSV of the talks, one made-up person per talk."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["name", "text"])
        writer.writerows((synthetic_name(i), text) for i, text in enumerate(talks["text"]))


def cli_command(csv_path: Path, data_dir: Path, model: str | None) -> list[str]:
    """The ``batchviz map`` command line (the installed script, else ``python -m bot.cli``)."""
    script = Path(sys.executable).with_name("batchviz")
    head = [str(script)] if script.exists() else [sys.executable, "-m", "bot.cli"]
    return head + ["map", "--csv", str(csv_path), "-o", str(csv_path.with_suffix(".html")),
                   "--data-dir", str(data_dir)] + (["--model", model] if model else [])


def run_process(command: list[str], log: Path) -> tuple[float, float]:
    """(wall seconds, peak MiB) of a fresh process; its output goes to ``log``."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    with log.open("w") as out:
        start = time.perf_counter()
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise BenchmarkError(f"{' '.join(command)} exited with {process.returncode}; see {log}")
    return wall, usage.ru_maxrss / 1024


def snapshot_timings(data_dir: Path) -> dict[str, float]:
    """The per-stage timings of the latest map the CLI saved in ``data_dir``."""
    from bot.cli import CSV_SOURCE
    from bot.settings import database_path
    from storage import Store

    with Store(database_path(data_dir)) as store:
        snapshot = store.latest_snapshot(CSV_SOURCE)
    return dict(snapshot.params.get("timings", {})) if snapshot else {}


def row(size: int, run: str, total: float, timings: dict, peak: float | None) -> dict:
    return {"size": size, "run": run, "total": total, "timings": timings, "peak": peak}


def subprocess_runs(size: int, csv_path: Path, folder: Path, model: str | None) -> list[dict]:
    """The cold run and the fresh-process rebuild, through the CLI."""
    data_dir = folder / f"data-{size}"
    rows = []
    for run in ("cold", "rebuild"):
        wall, peak = run_process(cli_command(csv_path, data_dir, model), folder / f"{run}-{size}.log")
        rows.append(row(size, run, wall, snapshot_timings(data_dir), peak))
    return rows


def bare_encode(embedder, texts: list[str]) -> None:
    """The embedding library called directly, as a user of sentence-transformers would."""
    if not hasattr(embedder, "load"):  # not a sentence-transformers model: its own encode
        embedder.encode(texts)
        return
    embedder.load().encode(texts, batch_size=embedder.batch_size, normalize_embeddings=True, convert_to_numpy=True)


def embedding_times(embedder, docs, cache, chunk: int = CHUNK) -> tuple[float, float]:
    """(bare encode s, ``embed_documents`` s) of ``docs``, interleaved chunk by chunk.

    Alternating the two in chunks (and which goes first) exposes both to the same load:
    on a shared machine two whole passes one after the other are not comparable.
    """
    from pipeline.embed import embed_documents

    times = {"bare": 0.0, "pipeline": 0.0}
    for number, start in enumerate(range(0, len(docs), chunk)):
        part = docs[start:start + chunk]
        steps = [("bare", lambda: bare_encode(embedder, [d.text for d in part])),
                 ("pipeline", lambda: embed_documents(part, embedder, cache))]
        for name, step in steps if number % 2 == 0 else steps[::-1]:
            began = time.perf_counter()
            step()
            times[name] += time.perf_counter() - began
    return times["bare"], times["pipeline"]


def in_process_runs(size: int, csv_path: Path, model: str | None) -> tuple[list[dict], dict]:
    """warm-1 / warm-2 builds, and the bare-encode vs pipeline embedding times."""
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
        previous = build_map(docs, None, embedder, cache, previous)
        rows.append(row(size, run, time.perf_counter() - start, previous.params["timings"], None))
    return rows, {"size": size, "texts": len(docs), "bare": bare, "pipeline": piped,
                  "commands": command_peaks(previous)}


def table(rows: list[dict]) -> str:
    lines = []
    for r in rows:
        stages = [r["timings"].get(s) for s in STAGES if s != "renumber"]
        other = r["total"] - sum(r["timings"].values()) if r["timings"] else None
        lines.append([r["size"], r["run"], r["total"], *stages, other, r["peak"]])
    return format_table(COLUMNS, lines)


def throughput_table(encodes: list[dict]) -> str:
    lines = [[e["size"], e["texts"] / e["bare"], e["texts"] / e["pipeline"], e["bare"] / e["pipeline"]]
             for e in encodes]
    return format_table(["size", "bare encode texts/s", "embed_documents texts/s", "ratio"], lines)


def commands_table(encodes: list[dict]) -> str:
    lines = [[e["size"], command, peak] for e in encodes for command, peak in e["commands"].items()]
    return format_table(["size", "command", "peak MiB"], lines)


def targets(rows: list[dict], encodes: list[dict]) -> list[list]:
    """[target, size, value, target value, PASS/MISS] for what was measured."""
    find = {(r["size"], r["run"]): r for r in rows}
    checks = []
    if 100 in {r["size"] for r in rows}:
        checks += [("cold end to end (s)", 100, find[(100, "cold")]["total"], TARGETS["cold_100"], True),
                   ("rebuild, fresh process (s)", 100, find[(100, "rebuild")]["total"], TARGETS["rebuild_fresh_100"], True),
                   ("rebuild, long-running (s)", 100, find[(100, "warm-2")]["total"], TARGETS["rebuild_warm_100"], True)]
    for e in encodes:
        if e["size"] >= 5000:
            checks.append(("cold minus bare encode (s)", e["size"], find[(e["size"], "cold")]["total"] - e["bare"],
                           TARGETS["over_encode"], True))
        checks.append(("embed throughput / bare", e["size"], e["bare"] / e["pipeline"], TARGETS["throughput"], False))
        checks.append(("memory of the costliest command (MiB)", e["size"], max(e["commands"].values()),
                       TARGETS["command_mib"], True))
    peaks = [r for r in rows if r["peak"] is not None]
    checks += [(f"peak memory, {r['run']} (MiB)", r["size"], r["peak"], TARGETS["peak_mib"], True) for r in peaks]
    return [[name, size, value, want, verdict(value, want, at_most)] for name, size, value, want, at_most in checks]


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="100,1000,5000", help="numbers of people, comma-separated")
    parser.add_argument("--quick", action="store_true", help="only 100 people")
    parser.add_argument("--data", default=None, help="the pyvideo parquet file")
    parser.add_argument("--model", default=None, help="embedding model (default: the bundled one; 'hashing': no model)")
    parser.add_argument("--keep", default=None, help="keep CSVs, maps, logs and data dirs in this folder")
    return parser.parse_args(argv)


def bench(sizes: list[int], folder: Path, data=None, model: str | None = None) -> tuple[list[dict], list[dict]]:
    talks = load_talks(data)
    if max(sizes) > len(talks):
        raise BenchmarkError(f"--sizes: at most {len(talks)} people in the data set")
    rows, encodes = [], []
    for size in sizes:
        csv_path = folder / f"people-{size}.csv"
        write_csv(csv_path, talks.sample(n=size, random_state=size))
        rows += subprocess_runs(size, csv_path, folder, model)
        warm, encode = in_process_runs(size, csv_path, model)
        rows += warm
        encodes.append(encode)
    return rows, encodes


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        sizes = [100] if args.quick else parse_sizes(args.sizes)
        with tempfile.TemporaryDirectory(prefix="batchviz-bench-") as tmp:
            folder = Path(args.keep or tmp)
            folder.mkdir(parents=True, exist_ok=True)
            rows, encodes = bench(sizes, folder, args.data, args.model)
    except BenchmarkError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(table(rows), throughput_table(encodes), commands_table(encodes),
          format_table(["target", "size", "value", "target value", "result"], targets(rows, encodes)), sep="\n\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
