"""What both benchmark scripts share: the talks data set, people made from it, the embedding
cache on disk, timing and memory, and the fixed-width table with its PASS/MISS column.

The data set is ``../shared/data/pyvideo_talks.parquet`` beside the repository (never
copied into it): 11,972 talk descriptions with a coarse ``community`` label. A talk
description plays one person's introduction; the person gets a made-up name.
"""

from __future__ import annotations

import csv
import os
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from pipeline.documents import Document
from pipeline.onnx_encoder import usable_cores

REPO_ROOT = Path(__file__).resolve().parent.parent

DATA_PATH = REPO_ROOT.parent / "shared" / "data" / "pyvideo_talks.parquet"
CACHE_DIR = Path(os.environ.get("BATCHVIZ_BENCH_CACHE", Path.home() / ".cache" / "batchviz-bench"))
CATCH_ALL = "general"  # the pyvideo community that is everything else
# the speed targets of bench.py and first_answer.py (seconds, MiB, MB, ratios)
TARGETS = {"cold_100": 10.0, "rebuild_fresh_100": 5.0, "rebuild_warm_100": 1.0,
           "over_encode": 30.0, "peak_mib": {5000: 1.5 * 1024, 20000: 4 * 1024}, "throughput": 0.90,
           "command_mib": 64.0,  # any one command, at any size: O(n·d), never O(n²·d)
           "answer_p99_ms": 50.0, "one_new_1000": 5.0, "page_mb_20000": 15.0, "cut_speedup": 1.3,
           "first_answer_100": 5.0, "drawn_20000": 3.0}

FIRST = ("Ada", "Bilal", "Chen", "Dana", "Emeka", "Farah", "Goran", "Hana", "Ivo", "Jun",
         "Kemal", "Lena", "Mateo", "Nia", "Oskar", "Priya", "Quinn", "Rosa", "Sven", "Tara")
LAST = ("Abara", "Berg", "Costa", "Dietz", "Eze", "Fujita", "Garcia", "Holm", "Ivanova",
        "Jansen", "Kaur", "Lund", "Moreau", "Novak", "Okafor", "Park", "Quispe", "Rossi",
        "Silva", "Tanaka", "Ueda", "Varga", "Weber", "Xu", "Yilmaz", "Zimmer")

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the bundled model only: never a hub download
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


class BenchmarkError(Exception):
    """Something the person running a benchmark has to fix (a missing file, a bad option)."""


def synthetic_name(i: int) -> str:
    """A made-up, unique name for person ``i`` ("Ada Abara", ..., "Ada Abara 2", ...)."""
    first, rest = FIRST[i % len(FIRST)], i // len(FIRST)
    last, round_ = LAST[rest % len(LAST)], rest // len(LAST)
    return f"{first} {last}" + (f" {round_ + 1}" if round_ else "")


def load_talks(path: Path | str | None = None):
    """The pyvideo talks as a DataFrame (doc_id, community, text, ...)."""
    import pandas as pd

    path = Path(path or DATA_PATH)
    if not path.exists():
        raise BenchmarkError(f"{path} not found: the benchmarks read ../shared/data/ beside the repository")
    return pd.read_parquet(path, columns=["doc_id", "community", "title", "text"]).reset_index(drop=True)


def talk_documents(talks) -> list[Document]:
    """One person per talk: a synthetic name, the description as the introduction."""
    return [
        Document(person_id=row.doc_id, name=synthetic_name(i), text=row.text, raw=row.text,
                 extra={"group": row.community})
        for i, row in enumerate(talks.itertuples(index=False))
    ]


def cache_store(folder: Path | str | None = None):
    """The benchmark's embedding cache: a real ``storage.Store`` outside the repository."""
    from storage import Store

    folder = Path(folder or CACHE_DIR)
    folder.mkdir(parents=True, exist_ok=True)
    return Store(folder / "embeddings.sqlite")


@dataclass
class Stopwatch:
    """Wall time of named steps, in seconds."""

    times: dict[str, float] = field(default_factory=dict)

    @contextmanager
    def __call__(self, name: str):
        start = time.perf_counter()
        try:
            yield
        finally:
            self.times[name] = time.perf_counter() - start


def write_csv(path: Path, talks) -> None:
    """A ``name,text`` CSV of the talks, one made-up person per talk."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["name", "text"])
        writer.writerows((synthetic_name(i), text) for i, text in enumerate(talks["text"]))


def read_batch(path: Path) -> list[Document]:
    """The people of a fictional batch file; ``extra["group"]`` is the intended group."""
    from pipeline.csv_import import read_csv

    return read_csv(path)


def verdict(value, target, at_most: bool = True) -> str:
    """PASS when ``value`` is within ``target`` (at most, or at least), MISS otherwise."""
    if value is None or target is None or any(isinstance(v, float) and np.isnan(v) for v in (value, target)):
        return "n/a"  # nothing to compare (e.g. BERTopic formed no group, so it has no keyword judge)
    return "PASS" if (value <= target if at_most else value >= target) else "MISS"


def cell(value) -> str:
    """A table cell: floats to 3 significant places, None as a dash."""
    if value is None:
        return "-"
    if isinstance(value, (float, np.floating)):
        return "nan" if np.isnan(value) else f"{value:.3g}" if abs(value) < 100 else f"{value:.0f}"
    return str(value)


def format_table(columns: list[str], rows: list[list]) -> str:
    """A plain, fixed-width table: a header, a rule, then the rows."""
    cells = [[cell(v) for v in row] for row in rows]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(v.ljust(w) for v, w in zip(row, widths)).rstrip() for row in cells]
    return "\n".join(lines)


def machine(cpuinfo: str | None = None) -> str:
    """One line naming the processor, its widest vector instructions, the cores and the memory:
    the same code ran twice as fast on a 2-core machine with AVX-512 as on one with AVX2
    only, so a speed table says which machine it came from."""
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
        except OSError:
            cpuinfo = ""
    fields = dict(line.split(":", 1) for line in cpuinfo.splitlines() if ":" in line)  # the last processor's
    fields = {key.strip(): value.strip() for key, value in fields.items()}
    flags = set(fields.get("flags", "").split())
    vector = next((name for flag, name in (("avx512f", "AVX-512"), ("avx2", "AVX2"), ("avx", "AVX")) if flag in flags),
                  "no AVX" if flags else "vector instructions unknown")
    try:
        memory = f"{os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.0f} GiB"
    except (ValueError, OSError, AttributeError):
        memory = "memory unknown"
    return f"machine: {fields.get('model name', 'processor unknown')}, {vector}, {usable_cores()} cores, {memory}"


def parse_sizes(text: str) -> list[int]:
    """"100,1000" → [100, 1000]; a clear error for anything else."""
    try:
        sizes = [int(part) for part in text.split(",") if part.strip()]
    except ValueError as exc:
        raise BenchmarkError(f"--sizes wants whole numbers separated by commas, not {text!r}") from exc
    if not sizes or min(sizes) < 1:
        raise BenchmarkError(f"--sizes wants positive numbers, not {text!r}")
    return sizes
