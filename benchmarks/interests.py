"""`who's into <topic>` measured: precision@3 on the fictional batches.

For each batch of ``benchmarks/data/`` and each of its intended groups, the bot is asked
about the group's topic written in other words than its members' (``TOPICS``; the
``overlap`` column counts the topic's terms that a member wrote anyway: it must be 0).
Precision@3 is the share of the first three people listed who are in that group (a list
shorter than three counts its missing places as misses), for the topic's meaning alone,
its words alone, and the blend the bot answers with (``bot.interests``). Also: how many
of a few topics nobody in a batch is into (``NOBODY``) still listed someone; and, for up to
``RARE`` words that one person alone wrote ("qiskit", "ghidra"), asked as the topic, how
often that person is listed first (hit@1): what the words are blended in for.

    python benchmarks/interests.py [--model NAME] [--cache FOLDER]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import cache_store, format_table, verdict  # noqa: E402

BATCH_DIR = Path(__file__).resolve().parent / "data"
K = 3
MIN_PRECISION = 0.9
TOPICS = {  # each group's topic, in words its members did not write ("batch/group": in that batch)
    "networking": "how internet traffic finds its way between machines",
    "mobile": "smartphone software for iPhones and handsets",
    "graphics": "drawing realistic images by simulating light",
    "climate": "global warming and the switch away from fossil fuels",
    "packaging": "how code gets shipped to and installed on users' machines",
    "education": "instructing children and newcomers",
    "quantum": "entanglement and superposition",
    "wasm": "portable bytecode executed inside pages",
    "rl": "training bots through rewards and trial and error",
    "accessibility": "making sites friendly to disabled people",
    "databases": "storing and retrieving records efficiently",
    "distributed": "keeping many machines in agreement despite failures",
    "security": "hacking and breaking encryption",
    "embedded": "tiny chips that drive physical devices",
    "plt": "the semantics of calculi and their evaluation",
    "ml": "artificial intelligence",
    "art": "making pictures with algorithms as an artistic practice",
    "science": "supercomputers for physics and astronomy",
    "teaching": "educators and classroom instruction",
    "compilers": "turning source into executables",
    "winter/compilers": "optimising translators from source to executables",
    "os": "what sits between programs and the machine: drivers, syscalls",
    "frontend": "styling and scripting websites",
    "music": "sound synthesis and making songs",
    "games": "creating playable worlds and levels",
    "winter/games": "interactive entertainment and level building",
    "proofs": "machine-checked mathematics",
    "hardware": "designing chips and transistors",
    "dataviz": "turning numbers into pictures and graphs",
    "bio": "genes and life sciences",
    "nlp": "chatbots and the semantics of speech",
    "fp": "pure functions, immutability and lambda calculus",
    "kernels": "the layer beneath applications and syscalls",
    "audio": "producing songs and mixing tracks",
    "backend": "the machinery behind websites",
}
RARE = 30
NOBODY = ("horse riding", "professional football", "wine tasting", "medieval poetry")
COLUMNS = ["batch", "groups", "overlap", "P@3 meaning", "P@3 words", "P@3 blend", "nobody listed",
           "rare hit@1 meaning", "words", "blend"]


def topic(batch: str, group: str) -> str:
    return TOPICS.get(f"{batch}/{group}", TOPICS[group])


def precision(listed: list[int], labels: np.ndarray, group: str, k: int = K) -> float:
    return sum(labels[i] == group for i in listed[:k]) / k


def batch_row(path: Path, embedder, cache) -> tuple[list, dict[str, float]]:
    """One batch's row and its mean precision per mode."""
    from bot.interests import MODES, TopicIndex, terms_of
    from pipeline.csv_import import read_csv
    from pipeline.embed import embed_documents
    from pipeline.neighbours import normalised

    docs = read_csv(path)
    labels = np.array([d.extra["group"] for d in docs])
    texts = tuple(d.text for d in docs)
    index = TopicIndex(normalised(embed_documents(docs, embedder, cache)), texts)
    groups = sorted(set(labels))
    topics = [topic(path.stem, g) for g in groups]
    overlap = sum(len(terms_of(t) & terms_of(" ".join(np.array(texts)[labels == g]))) for t, g in zip(topics, groups))
    vectors = embedder.encode(topics)
    means = {}
    for mode in MODES:
        found = [index.rank(t, v, K, lambda i: True, mode) for t, v in zip(topics, vectors)]
        means[mode] = float(np.mean([precision([m.index for m in f], labels, g) for f, g in zip(found, groups)]))
    listed = sum(bool(index.rank(q, embedder.encode([q])[0], K, lambda i: True)) for q in NOBODY)
    hits = rare_hits(index, embedder)
    row = [path.stem, len(groups), overlap, means["meaning"], means["words"], means["blend"],
           f"{listed}/{len(NOBODY)}"] + [hits[mode] for mode in ("meaning", "words", "blend")]
    return row, means


def rare_words(texts: tuple[str, ...], limit: int = RARE, seed: int = 0) -> list[tuple[str, int]]:
    """Up to ``limit`` single words of 4+ letters that exactly one text holds, with its index."""
    from bot.interests import terms_of

    writers: dict[str, set[int]] = {}
    for i, text in enumerate(texts):
        for term in terms_of(text):
            writers.setdefault(term, set()).add(i)
    rare = sorted((t, min(w)) for t, w in writers.items() if len(w) == 1 and " " not in t and len(t) >= 4)
    picked = np.random.default_rng(seed).permutation(len(rare))[:limit]
    return [rare[i] for i in sorted(picked)]


def rare_hits(index, embedder) -> dict[str, float]:
    """Per mode, the share of rare words whose one writer is listed first."""
    from bot.interests import MODES

    words = rare_words(index.texts)
    vectors = embedder.encode([w for w, _ in words])
    return {mode: float(np.mean([bool(found) and found[0].index == writer for (word, writer), v in zip(words, vectors)
                                 for found in [index.rank(word, v, 1, lambda i: True, mode)]]))
            for mode in MODES}


def interest_tables(embedder, cache, folder: Path = BATCH_DIR) -> tuple[list, list]:
    """(rows per batch and the mean, target rows)."""
    rows, means = [], []
    for path in sorted(folder.glob("*.csv")):
        row, mean = batch_row(path, embedder, cache)
        rows.append(row)
        means.append(mean)
    overall = {mode: float(np.mean([m[mode] for m in means])) for mode in means[0]}
    rows.append(["mean", sum(r[1] for r in rows), sum(r[2] for r in rows), overall["meaning"],
                 overall["words"], overall["blend"], ""] + [float(np.mean([r[c] for r in rows])) for c in (7, 8, 9)])
    targets = [
        ["who's into P@3 (blend)", "fictional", overall["blend"], f">= {MIN_PRECISION}",
         verdict(overall["blend"], MIN_PRECISION, at_most=False)],
        ["blend >= meaning, words", "fictional", overall["blend"],
         f">= {max(overall['meaning'], overall['words']):.3f}",
         verdict(overall["blend"], max(overall["meaning"], overall["words"]), at_most=False)],
    ]
    return rows, targets


def report(rows: list, targets: list) -> str:
    return "\n".join([format_table(COLUMNS, rows), "",
                      format_table(["target", "data", "value", "target value", "result"], targets)])


def main(argv=None) -> int:
    from pipeline.embed import load_embedder

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=None, help="embedding model (default: the bundled one)")
    parser.add_argument("--cache", default=None, help="folder of the embedding cache")
    args = parser.parse_args(argv)
    with cache_store(args.cache) as cache:
        print(report(*interest_tables(load_embedder(args.model), cache)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
