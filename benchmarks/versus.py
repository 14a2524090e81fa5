"""batchviz against the original script, old default against new, and the first-ever run.

    python benchmarks/versus.py [--rounds 3] [--people 100] [--original-model bundled]

Each run is a fresh process on the same ``name,text`` CSV of talk descriptions, cold (an
empty data folder: nothing encoded yet), measured by ``benchmarks.measured`` (wall,
CPU and peak memory of that process alone):

- ``original``: the original script's work (``benchmarks/original.py``, a stand-in: see
  there why, and which model);
- ``torch``: ``batchviz map --backend torch``, the default until issue 24;
- ``onnx``: ``batchviz map``, the default now;

taken in turn, one of each per round, so that all three see the same load. The ratio
"vs original" is the original's time over the row's, round by round, and its median.
Then once each, ``first-ever``: ``batchviz map`` with an empty user cache
(``XDG_CACHE_HOME``), as on a new machine: numba compiles UMAP's functions, and on onnx
the model is exported to ONNX first (torch is imported for it).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(REPO))

from benchmarks.common import BenchmarkError, format_table, load_talks, machine, verdict, write_csv  # noqa: E402

ROUNDS = 3
TARGET_RATIO = 4.0  # batchviz's default at least this many times as fast as the original script, at 100
COLUMNS = ["run", "rounds", "wall s", "cpu s", "peak MiB", "vs original", "wall s each"]


def batchviz_command(csv_path: Path, data_dir: Path, model: str | None, backend: str | None = None) -> list[str]:
    """The ``batchviz map`` command line (the installed script, else ``python -m bot.cli``);
    ``backend`` None: the default."""
    script = Path(sys.executable).with_name("batchviz")
    head = [str(script)] if script.exists() else [sys.executable, "-m", "bot.cli"]
    return (head + ["map", "--csv", str(csv_path), "-o", str(csv_path.with_suffix(".html")), "--data-dir", str(data_dir)]
            + (["--backend", backend] if backend else []) + (["--model", model] if model else []))


def original_command(csv_path: Path, model: str) -> list[str]:
    return [sys.executable, str(REPO / "benchmarks" / "original.py"), str(csv_path),
            "-o", str(csv_path.with_name("original.html")), "--model", model]


def run_process(command: list[str], log: Path, **env: str) -> dict:
    """{"wall", "cpu", "peak_mib"} of a fresh process, its output in ``log``. It is started by
    ``benchmarks.measured``, a small process, so that its peak is not this one's."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])), **env}
    result = log.with_suffix(".measured.json")
    with log.open("w") as out:
        subprocess.run([sys.executable, "-m", "benchmarks.measured", str(result), *command],
                       stdout=out, stderr=subprocess.STDOUT, env=env, check=False)
    try:
        measured = json.loads(result.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise BenchmarkError(f"{' '.join(command)} could not be measured ({exc}); see {log}") from exc
    if measured["exit"] != 0:
        raise BenchmarkError(f"{' '.join(command)} exited with {measured['exit']}; see {log}")
    return measured


def side_by_side(csv_path: Path, folder: Path, rounds: int = ROUNDS, original_model: str = "bundled") -> list[dict]:
    """The three cold runs in turn, ``rounds`` times, then the first-ever runs: one row each."""
    from benchmarks import original

    original.prepare(original_model)  # made once, outside the timed runs
    runs = {"original": [], "torch": [], "onnx": []}
    for number in range(rounds):
        for name in runs:
            log = folder / f"versus-{name}-{number}.log"
            command = (original_command(csv_path, original_model) if name == "original"
                       else batchviz_command(csv_path, folder / f"versus-{name}-{number}", None, name))
            runs[name].append(run_process(command, log))
    rows = [summary(name, measured, runs["original"]) for name, measured in runs.items()]
    for backend in ("onnx", "torch"):
        cache = Path(tempfile.mkdtemp(prefix="empty-cache-", dir=folder))
        command = batchviz_command(csv_path, folder / f"first-{backend}", None, backend)
        rows.append(summary(f"first-ever, {backend}", [run_process(command, folder / f"first-{backend}.log",
                                                                   XDG_CACHE_HOME=str(cache))], runs["original"]))
    return rows


def summary(name: str, measured: list[dict], original: list[dict]) -> dict:
    """Medians of a run's rounds, and the original's wall over this run's, round by round."""
    ratios = [o["wall"] / m["wall"] for o, m in zip(original, measured)]
    return {"run": name, "rounds": len(measured), "wall": statistics.median(m["wall"] for m in measured),
            "cpu": statistics.median(m.get("cpu", float("nan")) for m in measured),
            "peak": statistics.median(m["peak_mib"] for m in measured),
            "ratio": statistics.median(ratios), "each": " ".join(f"{m['wall']:.1f}" for m in measured)}


def table(rows: list[dict]) -> str:
    return format_table(COLUMNS, [[r["run"], r["rounds"], r["wall"], r["cpu"], r["peak"], r["ratio"], r["each"]]
                                  for r in rows])


def targets(rows: list[dict], people: int) -> list[list]:
    """The default (onnx) against the original script: at least TARGET_RATIO times as fast."""
    onnx = next(r for r in rows if r["run"] == "onnx")
    return [["default (onnx) vs the original script (x)", people, onnx["ratio"], TARGET_RATIO,
             verdict(onnx["ratio"], TARGET_RATIO, at_most=False)]]


def main(argv=None) -> int:
    from benchmarks import original, scale

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    parser.add_argument("--people", type=int, default=100)
    parser.add_argument("--data", default=None, help="the pyvideo parquet file")
    parser.add_argument("--original-model", choices=original.MODELS, default="bundled")
    parser.add_argument("--keep", default=None, help="keep the CSV, maps and logs in this folder")
    args = parser.parse_args(argv)
    try:
        with tempfile.TemporaryDirectory(prefix="batchviz-versus-") as tmp:
            folder = Path(args.keep or tmp)
            folder.mkdir(parents=True, exist_ok=True)
            csv_path = folder / f"people-{args.people}.csv"
            write_csv(csv_path, scale.people(load_talks(args.data), args.people, seed=args.people))
            rows = side_by_side(csv_path, folder, args.rounds, args.original_model)
    except BenchmarkError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(machine(), f"load average: {' '.join(f'{x:.1f}' for x in os.getloadavg())}", table(rows),
          format_table(["target", "size", "value", "target value", "result"], targets(rows, args.people)), sep="\n\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
