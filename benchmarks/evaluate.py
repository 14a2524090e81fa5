"""Map quality you can measure: batchviz against BERTopic and the seed script's settings.

    python benchmarks/evaluate.py [--draws 30] [--size 60] [--large 1000] [--seed 0]
                                  [--pool labelled|all|both] [--quick] [--only small]
                                  [--seeds 5] [--stability 40] [--refit 6]

Data: pyvideo talk descriptions (label = the talk's community) in two regimes, batch-sized
draws (``--size`` people, ``--draws`` times: mean and spread) and one draw of ``--large``;
the bundled demo introductions (label = the intended group); and the fictional batches
of ``benchmarks/data/`` (36–45 people in groups of 4–5, the regime that matters most),
each mapped with ``--seeds`` UMAP seeds. The batch whose file starts with ``heldout_`` was
never used to choose a parameter and is reported on its own. ``--refit`` people of each
batch are edited and removed in turn, and the map refitted in full, with and without the
refit stabilisation (``benchmarks/refit.py``). ``--only small`` runs the
demo and the batches only (a few minutes). Pools: "labelled" draws
only from the named communities (not the catch-all "general"), which makes ARI/NMI
meaningful; "all" draws from every talk. Everything is embedded once with the bundled
model into a cache outside the repository (``benchmarks.common.CACHE_DIR``); the three
configurations then share those embeddings. See README.md for the columns.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import interests, judge, metrics, refit, stability  # noqa: E402
from benchmarks.common import (CATCH_ALL, BenchmarkError, cache_store, format_table, load_talks,  # noqa: E402
                               read_batch, talk_documents)
from benchmarks.configs import CONFIGS, bertopic_available  # noqa: E402
from benchmarks.targets import quality_targets, summary  # noqa: E402

MEASURES = ("ari", "ari_out", "nmi", "nmi_out", "noise", "p5_full", "p5_2d", "kw_div", "phrase", "judge",
            "generic", "generic_named")
COLUMNS = ["data", "regime", "config", "ok", "ARI", "ARI-noise", "NMI", "NMI-noise",
           "noise", "P@5 full", "P@5 2-D", "kw div", "phrase", "judge", "generic kw", "generic-only"]
DEMO_CATCH_ALL = "none"
SHOWN_KEYWORDS = 6  # PipelineParams' default top_keywords: what the map and the bot show
# the fictional batches: the mean over the tuned ones, and the held-out one alone
BATCH_DIR = Path(__file__).resolve().parent / "data"
HELD_OUT_PREFIX = "heldout_"


@dataclass
class Group:
    """A row group of the table: one data set in one regime."""

    data: str
    regime: str
    samples: list
    batch_sized: bool  # the noise target applies to batch-sized maps only
    fictional: str = ""  # "tuned" or "held out" for the fictional batches


@dataclass
class Sample:
    """One map to make: the people, their labels, and which labels mean "no group"."""

    docs: list
    labels: np.ndarray
    catch_all: tuple[str, ...]


def measure(run, sample: Sample, embeddings: np.ndarray, embedder=None) -> dict[str, float]:
    """Every measure of one configuration's ``run`` on one sample.

    P@5 full ranks with ``pipeline.neighbours.rank``, the order "who's near me" answers in;
    the keyword judge (``benchmarks.judge``) embeds with ``embedder`` (NaN without one).
    """
    from pipeline.neighbours import rank

    truth = sample.labels
    ari, nmi = metrics.label_agreement(truth, run.labels, noise="group")
    ari_out, nmi_out = metrics.label_agreement(truth, run.labels, noise="drop")
    n = len(truth)
    nearest = rank(embeddings, min(5, n - 1))[0] if n > 1 else np.empty((n, 0), dtype=int)
    return {
        "ari": ari, "ari_out": ari_out, "nmi": nmi, "nmi_out": nmi_out,
        "noise": metrics.noise_fraction(run.labels),
        "p5_full": metrics.neighbour_precision(nearest, truth, sample.catch_all),
        "p5_2d": (metrics.precision_at_k(run.coords, truth, 5, "euclidean", sample.catch_all)
                  if run.coords is not None else float("nan")),
        "kw_div": metrics.keyword_diversity(run.keywords),
        "phrase": metrics.phrase_score(run.keywords, texts_by_label(sample.docs, run.labels), SHOWN_KEYWORDS),
        "judge": (judge.judge_score(run.keywords, run.labels, truth, embedder, sample.catch_all, SHOWN_KEYWORDS)
                  if embedder is not None else float("nan")),
        "generic": judge.generic_share(run.keywords, SHOWN_KEYWORDS),
        "generic_named": float(judge.generic_named(run.keywords, SHOWN_KEYWORDS)),
    }


def texts_by_label(docs, labels) -> dict[int, list[str]]:
    """The texts of each cluster's members, by label."""
    texts: dict[int, list[str]] = {}
    for doc, label in zip(docs, np.asarray(labels).tolist()):
        texts.setdefault(label, []).append(doc.text)
    return texts


def evaluate_samples(samples: list[Sample], configs, embedder, cache, seed: int) -> dict[str, dict]:
    """Per configuration: the measures of every sample (lists) and the failures."""
    from pipeline.embed import embed_documents

    results = {name: {"values": {m: [] for m in MEASURES}, "failed": 0, "errors": set()} for name in configs}
    for number, sample in enumerate(samples):
        print(f"  sample {number + 1}/{len(samples)} ({len(sample.docs)} people)", file=sys.stderr, flush=True)
        embeddings = embed_documents(sample.docs, embedder, cache)
        for name, run_config in configs.items():
            try:
                run = run_config(sample.docs, embeddings, embedder, cache, seed + number)
            except Exception as exc:  # a method failing on a small input is a result, not a crash
                results[name]["failed"] += 1
                results[name]["errors"].add(f"{type(exc).__name__}: {str(exc)[:80]}")
                continue
            for key, value in measure(run, sample, embeddings, embedder).items():
                results[name]["values"][key].append(value)
    return results


def table_rows(data: str, regime: str, results: dict, total: int) -> list[list]:
    rows = []
    for name, result in results.items():
        cells = []
        for key in MEASURES:
            mean, spread = summary(result["values"][key])
            cells.append("-" if np.isnan(mean) else f"{mean:.3f}" + (f"±{spread:.3f}" if total > 1 else ""))
        rows.append([data, regime, name, f"{total - result['failed']}/{total}", *cells])
    return rows


def pyvideo_samples(talks, size: int, draws: int, seed: int, pool: str) -> list[Sample]:
    """``draws`` random draws of ``size`` talks from the pool ("labelled" leaves out "general")."""
    if pool == "labelled":
        talks = talks[talks["community"] != CATCH_ALL]
    if size > len(talks):
        raise BenchmarkError(f"asked for {size} people but the {pool} pool has {len(talks)}")
    rng = np.random.default_rng(seed)
    samples = []
    for _ in range(draws):
        drawn = talks.iloc[np.sort(rng.choice(len(talks), size=size, replace=False))]
        samples.append(Sample(talk_documents(drawn), drawn["community"].to_numpy(), (CATCH_ALL,)))
    return samples


def demo_sample() -> Sample:
    from pipeline.demo import load_demo

    docs = load_demo()
    return Sample(docs, np.array([d.extra["group"] for d in docs]), (DEMO_CATCH_ALL,))


def batch_samples(path: Path, seeds: int) -> list[Sample]:
    """One fictional batch (``name,group,text``), once per UMAP seed."""
    docs = read_batch(path)
    labels = np.array([d.extra["group"] for d in docs])
    return [Sample(docs, labels, (DEMO_CATCH_ALL,)) for _ in range(seeds)]


def batch_groups(seeds: int) -> list[Group]:
    """A row group per fictional batch, the tuned ones first, then the held-out one(s)."""
    paths = sorted(BATCH_DIR.glob("*.csv"), key=lambda p: (p.name.startswith(HELD_OUT_PREFIX), p.name))
    groups = []
    for path in paths:
        held_out = path.name.startswith(HELD_OUT_PREFIX)
        name = path.stem.removeprefix(HELD_OUT_PREFIX)
        samples = batch_samples(path, seeds)
        groups.append(Group(f"{'held-out' if held_out else 'batch'}/{name}", f"{len(samples[0].docs)}x{seeds}",
                            samples, True, "held out" if held_out else "tuned"))
    return groups


def plan(args) -> list[Group]:
    """Every row group the options ask for, with its samples."""
    pools = ["labelled", "all"] if args.pool == "both" else [args.pool]
    groups = [Group("demo", "all", [demo_sample()], True)] if args.demo else []
    if args.seeds:
        groups += batch_groups(args.seeds)
    if args.only == "small":
        return groups
    if args.draws or args.large:
        talks = load_talks(args.data)
        for pool in pools:
            if args.draws:
                samples = pyvideo_samples(talks, args.size, args.draws, args.seed, pool)
                groups.append(Group(f"pyvideo/{pool}", f"{args.size}x{args.draws}", samples, True))
            if args.large:
                samples = pyvideo_samples(talks, args.large, 1, args.seed, pool)
                groups.append(Group(f"pyvideo/{pool}", str(args.large), samples, False))
    return groups


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--draws", type=int, default=30, help="batch-sized draws (0: none)")
    parser.add_argument("--size", type=int, default=60, help="people per batch-sized draw")
    parser.add_argument("--large", type=int, default=1000, help="people in the large draw (0: none)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--pool", choices=("labelled", "all", "both"), default="both")
    parser.add_argument("--no-demo", dest="demo", action="store_false", help="skip the demo introductions")
    parser.add_argument("--quick", action="store_true", help="5 draws, large 300, labelled pool only")
    parser.add_argument("--only", choices=("small",), default=None,
                        help="small: the demo and the fictional batches only, no pyvideo")
    parser.add_argument("--seeds", type=int, default=5, help="UMAP seeds per fictional batch (0: none)")
    parser.add_argument("--stability", type=int, default=40,
                        help="trials of one added person to a 40-person batch (0: none)")
    parser.add_argument("--refit", type=int, default=6,
                        help="people per fictional batch edited, then removed, before a full refit (0: none)")
    parser.add_argument("--data", default=None, help="the pyvideo parquet file")
    parser.add_argument("--model", default=None, help="embedding model (default: the bundled one; 'hashing' for a smoke test)")
    parser.add_argument("--cache", default=None, help="folder of the embedding cache")
    parser.add_argument("--max-tokens", type=int, default=None, help="cut texts at this many word pieces (the embedding_max_tokens setting)")
    args = parser.parse_args(argv)
    if args.quick:
        args.draws, args.large, args.pool = min(args.draws, 5), min(args.large, 300), "labelled"
    if min(args.draws, args.large, args.seeds, args.stability, args.refit) < 0 or args.size < 2:
        parser.error("--draws, --large, --seeds, --stability and --refit must be 0 or more, --size at least 2")
    return args


def available_configs() -> tuple[dict, str | None]:
    """The configurations that can run here, and a message when BERTopic is missing."""
    configs = dict(CONFIGS)
    if bertopic_available():
        return configs, None
    del configs["bertopic"]
    return configs, ("bertopic is not installed (pip install -e '.[bench]'): its rows and "
                     "the targets that compare with it are skipped.")


def evaluate_groups(groups: list[Group], configs: dict, args) -> tuple[list[dict], list[tuple]]:
    """The results of every group and the stability and (with the fictional batches) `who's
    into` tables (title, columns, rows, targets), embedding through the benchmark's cache."""
    from pipeline.embed import load_embedder

    embedder, results, tables = load_embedder(args.model, max_tokens=args.max_tokens), [], []
    with cache_store(args.cache) as cache:
        for group in groups:
            print(f"{group.data} {group.regime}:", file=sys.stderr, flush=True)
            results.append(evaluate_samples(group.samples, configs, embedder, cache, args.seed))
        if args.stability:
            print("stability:", file=sys.stderr, flush=True)
            tables.append((None, stability.COLUMNS, *stability.stability_tables(BATCH_DIR, args.stability,
                                                                                embedder, cache, args.seed)))
        batches = {g.data: g.samples[0].docs for g in groups if g.fictional}
        if args.refit and batches:
            print("refit stability:", file=sys.stderr, flush=True)
            tables.append((None, refit.COLUMNS, *refit.refit_tables(batches, args.refit, embedder, cache, args.seed)))
        if args.seeds:
            print("who's into:", file=sys.stderr, flush=True)
            who_rows, who_targets = interests.interest_tables(embedder, cache, BATCH_DIR)
            tables.append(("who's into <topic>, in other words than the group's (benchmarks/interests.py)",
                           interests.COLUMNS, who_rows, [[t[0], *t[1:2], "", *t[2:]] for t in who_targets]))
    return results, tables


def report(groups: list[Group], results_by_group: list[dict], tables=()) -> str:
    """The measures table, the stability tables, the targets table, and what failed where."""
    rows = [row for group, results in zip(groups, results_by_group)
            for row in table_rows(group.data, group.regime, results, len(group.samples))]
    targets = quality_targets(groups, results_by_group) + [t for *_, extra in tables for t in extra]
    lines = [format_table(COLUMNS, rows), ""]
    for title, columns, table, _ in tables:
        if table:
            lines += [title] if title else []
            lines += [format_table(columns, table), ""]
    lines.append(format_table(["target", "data", "regime", "value", "target value", "result"], targets))
    for group, results in zip(groups, results_by_group):
        lines += [f"{name} failed in {result['failed']}/{len(group.samples)} {group.data} {group.regime} "
                  f"samples: " + "; ".join(sorted(result["errors"]))
                  for name, result in results.items() if result["failed"]]
    return "\n".join(lines)


def main(argv=None) -> int:
    args = parse_args(argv)
    configs, message = available_configs()
    if message:
        print(message)
    try:
        groups = plan(args)
    except BenchmarkError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    results, tables = evaluate_groups(groups, configs, args)
    print(report(groups, results, tables))
    return 0


if __name__ == "__main__":
    sys.exit(main())
